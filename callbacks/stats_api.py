"""GET /api/v1/stats/: the call dashboard's figures for a period and the previous
period of the same length (callbacks.stats, from the rollups only), with the SMS and
voice codes sent and failed that the user may view (messaging.selectors).

Query parameters are the dashboard page's form (callbacks.dashboard.StatsForm):
`period` (a preset) or `from`/`to`, and `vendor_account`.  X numbers are masked
unless the user holds accounts.view_full_numbers.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks import stats
from callbacks.dashboard import (
    DEFAULT_PRESET,
    EXPIRING_WITHIN,
    PRESETS,
    StatsForm,
    send_counts,
    stats_query,
)
from core.serializers import MaskedNumberField
from privacy import selectors as privacy_selectors


class CanViewCalls(permissions.BasePermission):
    """The dashboard's permission: callbacks.view_callrecord."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("callbacks.view_callrecord"))


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive.")


class FiguresSerializer(serializers.Serializer):
    calls = serializers.IntegerField()
    ended = serializers.IntegerField(help_text="Calls whose CDR has arrived.")
    answered = serializers.IntegerField()
    talk_seconds = serializers.IntegerField(help_text="Talk time of the answered calls.")
    asr = serializers.FloatField(allow_null=True, help_text="Answered / ended calls, percent.")
    acd = serializers.FloatField(allow_null=True, help_text="Average talk seconds when answered.")
    minutes = serializers.FloatField(help_text="Total talk minutes.")


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text='"" for calls whose CDR has not arrived.')
    label = serializers.CharField()
    calls = serializers.IntegerField()
    previous_calls = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Percent of the period's calls.")


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    previous_calls = serializers.IntegerField(help_text="The same bucket one period earlier.")
    previous_answered = serializers.IntegerField()


class XNumberSerializer(serializers.Serializer):
    x_number = MaskedNumberField()
    current = FiguresSerializer(source="figures")
    previous = FiguresSerializer()


class BindingsSerializer(serializers.Serializer):
    active = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    expiring_within_minutes = serializers.IntegerField()


class SendCountsSerializer(serializers.Serializer):
    sent = serializers.IntegerField(help_text="Accepted by the vendor (partly sent included).")
    failed = serializers.IntegerField(help_text="Refused by the vendor.")
    previous_sent = serializers.IntegerField()
    previous_failed = serializers.IntegerField()


class SendsSerializer(serializers.Serializer):
    sms = SendCountsSerializer(allow_null=True, help_text="Null without messaging.view_message.")
    voice_codes = SendCountsSerializer(
        allow_null=True, help_text="Null without messaging.view_voicecode."
    )


class StatsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    previous_period = PeriodSerializer()
    granularity = serializers.ChoiceField(choices=["hour", "day"], help_text="Of `series`.")
    vendor_account = serializers.IntegerField(source="vendor_account_id", allow_null=True)
    current = FiguresSerializer()
    previous = FiguresSerializer()
    outcomes = OutcomeSerializer(many=True)
    series = BucketSerializer(many=True)
    busiest_x_numbers = XNumberSerializer(many=True, source="busiest")
    bindings = BindingsSerializer(allow_null=True, help_text="Null without privacy.view_binding.")
    sends = SendsSerializer(help_text="SMS and voice codes created in each period.")
    refreshed_at = serializers.DateTimeField(allow_null=True, help_text="Rollups as of.")


_FIGURES = {"calls": 120, "ended": 118, "answered": 90, "talk_seconds": 5400}
_EXAMPLE = {
    "period": {"start": "2026-11-24T00:00:00+08:00", "end": "2026-11-30T11:00:00+08:00"},
    "previous_period": {"start": "2026-11-17T13:00:00+08:00", "end": "2026-11-24T00:00:00+08:00"},
    "granularity": "day",
    "vendor_account": None,
    "current": {**_FIGURES, "asr": 76.3, "acd": 60.0, "minutes": 90.0},
    "previous": {
        "calls": 100,
        "ended": 100,
        "answered": 70,
        "talk_seconds": 3500,
        "asr": 70.0,
        "acd": 50.0,
        "minutes": 58.3,
    },
    "outcomes": [
        {
            "outcome": "answered",
            "label": "answered",
            "calls": 90,
            "previous_calls": 70,
            "share": 75.0,
        },
        {"outcome": "busy", "label": "busy", "calls": 28, "previous_calls": 30, "share": 23.3},
        {"outcome": "", "label": "no CDR yet", "calls": 2, "previous_calls": 0, "share": 1.7},
    ],
    "series": [
        {
            "start": "2026-11-24T00:00:00+08:00",
            "calls": 17,
            "answered": 13,
            "previous_calls": 15,
            "previous_answered": 10,
        },
    ],
    "busiest_x_numbers": [
        {
            "x_number": "170****5678",
            "current": {**_FIGURES, "asr": 76.3, "acd": 60.0, "minutes": 90.0},
            "previous": {
                "calls": 0,
                "ended": 0,
                "answered": 0,
                "talk_seconds": 0,
                "asr": None,
                "acd": None,
                "minutes": 0.0,
            },
        }
    ],
    "bindings": {"active": 12, "expiring_soon": 3, "expiring_within_minutes": 60},
    "sends": {
        "sms": {"sent": 340, "failed": 4, "previous_sent": 310, "previous_failed": 9},
        "voice_codes": {"sent": 1200, "failed": 2, "previous_sent": 1150, "previous_failed": 0},
    },
    "refreshed_at": "2026-11-30T10:59:02+08:00",
}


class StatsView(APIView):
    permission_classes = [CanViewCalls]

    @extend_schema(
        operation_id="stats",
        parameters=[
            OpenApiParameter(
                "period",
                str,
                enum=[*PRESETS, "custom"],
                description=f"A preset (default {DEFAULT_PRESET}; days are TIME_ZONE days), "
                "or custom with from/to.",
            ),
            OpenApiParameter("from", str, description="Date (2026-11-01) or ISO datetime."),
            OpenApiParameter(
                "to", str, description="Date (inclusive) or ISO datetime; default now."
            ),
            OpenApiParameter("vendor_account", int, description="One account; all when absent."),
        ],
        responses={200: StatsSerializer},
        examples=[
            OpenApiExample("Last 7 days, all accounts", value=_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request):
        """Calls, ASR, ACD, minutes, outcomes, calls per hour or day, the busiest X
        numbers, and SMS and voice codes sent and failed for a period, each beside the
        previous period of the same length."""
        form = StatsForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError({k: list(v) for k, v in form.errors.items()})
        query = stats_query(form)
        board = stats.dashboard_stats(**query)
        sends = send_counts(board, request.user)
        payload = {**_payload(board), "sends": {k: sends.get(k) for k in ("sms", "voice_codes")}}
        body = StatsSerializer(payload, context={"request": request}).data
        if request.user.has_perm("privacy.view_binding"):
            activity = privacy_selectors.binding_activity(
                vendor_account_id=query["vendor_account_id"], within=EXPIRING_WITHIN, limit=0
            )
            body["bindings"] = {
                "active": activity.active,
                "expiring_soon": activity.expiring_soon,
                "expiring_within_minutes": int(EXPIRING_WITHIN.total_seconds() // 60),
            }
        return Response(body)


def _payload(board: stats.Dashboard) -> dict:
    return {
        "period": board.period,
        "previous_period": board.previous_period,
        "granularity": "day" if board.period.by_day else "hour",
        "vendor_account_id": board.vendor_account_id,
        "current": board.current,
        "previous": board.previous,
        "outcomes": board.outcomes,
        "series": board.series,
        "busiest": board.busiest,
        "bindings": None,
        "refreshed_at": board.refreshed_at,
    }
