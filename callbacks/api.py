"""REST API for call records: GET /api/v1/call-records/ and /api/v1/call-records/{id}/.

Read-only, in keyset pages (core.pagination.KeysetPagination).  Numbers, and numbers
inside vendor texts, are masked like on the pages unless the user holds
accounts.view_full_numbers (core.serializers).  Filters are
callbacks.filters.CallRecordFilter, as on the page and the CSV export.
"""

from datetime import UTC

from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

import vendors
from callbacks.filters import CallRecordFilter
from callbacks.models import CallEvent, CallRecord
from core.pagination import KeysetPagination
from core.serializers import MaskedNumberField, MaskedTextField


class _SafeDateTime(serializers.DateTimeField):
    """Times stored before they were bounded on arrival may not convert to the
    display zone (9999-12-31T23:59:59Z overflows in Asia/Shanghai): UTC then."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except serializers.ValidationError:
            return value.astimezone(UTC)


class _SafeTimes(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: _SafeDateTime,
    }


class CallEventSerializer(_SafeTimes):
    caller = MaskedNumberField(read_only=True)
    callee = MaskedNumberField(read_only=True)
    x_number = MaskedNumberField(read_only=True)
    state_text = MaskedTextField(read_only=True)

    class Meta:
        model = CallEvent
        fields = ["kind", "occurred_at", "caller", "callee", "x_number", "state_code", "state_text"]


class CallRecordSerializer(_SafeTimes):
    vendor_account = serializers.PrimaryKeyRelatedField(read_only=True)
    caller = MaskedNumberField(read_only=True)
    callee = MaskedNumberField(read_only=True)
    x_number = MaskedNumberField(read_only=True)
    # cyj's binding id is the X number; vendor texts and user data may carry numbers.
    vendor_binding_id = MaskedTextField(read_only=True)
    raw_text = MaskedTextField(read_only=True)
    user_data = MaskedTextField(read_only=True)
    binding = serializers.PrimaryKeyRelatedField(read_only=True)
    events = CallEventSerializer(many=True, read_only=True)
    has_recording = serializers.BooleanField(read_only=True)

    class Meta:
        model = CallRecord
        fields = [
            "id",
            "vendor_account",
            "vendor",
            "call_id",
            "binding",
            "vendor_binding_id",
            "caller",
            "callee",
            "x_number",
            "outcome",
            "raw_code",
            "raw_text",
            "call_at",
            "begin_at",
            "ring_at",
            "answer_at",
            "release_at",
            "duration",
            "release_side",
            "user_data",
            "has_cdr",
            "recording_status",
            "has_recording",
            "events",
        ]


_EXAMPLE_RECORD = {
    "id": 9812734,
    "vendor_account": 3,
    "vendor": min(vendors.REGISTRY),  # any registered code: the app names none
    "call_id": "c-20261130-000184",
    "binding": 55120,
    "vendor_binding_id": "S2026113000012",
    "caller": "+86138****5678",
    "callee": "+86139****4321",
    "x_number": "+86170****0001",
    "outcome": "answered",
    "raw_code": "answered",
    "raw_text": "呼叫成功",
    "call_at": "2026-11-30T10:02:11+08:00",
    "begin_at": "2026-11-30T10:02:11+08:00",
    "ring_at": "2026-11-30T10:02:13+08:00",
    "answer_at": "2026-11-30T10:02:19+08:00",
    "release_at": "2026-11-30T10:04:03+08:00",
    "duration": 104,
    "release_side": "callee",
    "user_data": "",
    "has_cdr": True,
    "recording_status": "downloaded",
    "has_recording": True,
    "events": [
        {
            "kind": "alerting",
            "occurred_at": "2026-11-30T10:02:13+08:00",
            "caller": "+86138****5678",
            "callee": "+86139****4321",
            "x_number": "+86170****0001",
            "state_code": "",
            "state_text": "",
        }
    ],
}


@extend_schema_view(
    list=extend_schema(
        summary="Call records, newest first, by keyset pages",
        description="Filters as on the list page and the CSV export (`number`: a complete "
        "number, exact; `q`: digits of one with accounts.view_full_numbers). Follow `next` "
        "for the following page: its `cursor` is opaque. `estimated_count` is the planner's "
        "estimate, not a count.",
        examples=[OpenApiExample("A page of calls", value=_EXAMPLE_RECORD, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One call record with its status events",
        examples=[OpenApiExample("A call", value=_EXAMPLE_RECORD, response_only=True)],
    ),
)
class CallRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Call records (CDRs and the events received for each call)."""

    serializer_class = CallRecordSerializer
    queryset = CallRecord.objects.select_related("vendor_account").prefetch_related("events")
    # The list page's and the CSV export's filter set: same parameters, same search rule.
    filter_backends = [DjangoFilterBackend]
    filterset_class = CallRecordFilter
    # Seek pages: OFFSET and COUNT(*) would read millions of rows deep in the list.
    pagination_class = KeysetPagination
