"""REST API for two-way calls (/api/v1/two-way-calls/) and voice verification codes
(/api/v1/voice-codes/): list (filters: state, vendor_account, recipient, date_from,
date_to), create, detail. Serializers shape data; messaging.services writes.

POST answers 202 with the record in state "pending"; a worker calls the vendor; poll
GET until it is sent or failed. The detail carries what the vendor called back (events
and the CDR, attached by callSid / sessionId) and the outcome. An `Idempotency-Key`
makes a retried POST return the first record (200); the same key with another request
is a 409. A send over a rate limit is a 429 with Retry-After, and nothing is sent.
A voice code's code is write-only: every answer says "****".
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from accounts.models import SubAccount, VendorAccount
from core import idempotency
from core.api import Conflict
from core.phones import display_number
from core.serializers import MaskedNumberField, MaskedTextField
from messaging import calls, limits, selectors
from messaging.api import ErrorSerializer
from messaging.filters import TwoWayCallFilter, VoiceCodeFilter
from messaging.models import Send, TwoWayCall, VoiceCode

# --------------------------------------------------------------------- shared shapes


class ReportedEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    state_code = serializers.CharField()
    state_text = MaskedTextField()


class ReportedRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    has_cdr = serializers.BooleanField()
    outcome = serializers.CharField()
    duration = serializers.IntegerField(help_text="Seconds.")
    answer_at = serializers.DateTimeField(allow_null=True)
    release_at = serializers.DateTimeField(allow_null=True)


class ReportedCallSerializer(serializers.Serializer):
    """What the vendor called back, attached by its call id."""

    outcome = serializers.CharField(help_text="answered, busy, no_answer, … ('' under way).")
    last_event = serializers.CharField()
    events = ReportedEventSerializer(many=True)
    record = ReportedRecordSerializer(allow_null=True)


class SendSerializer(serializers.ModelSerializer):
    """Fields every send shows."""

    error = serializers.SerializerMethodField()
    call = serializers.SerializerMethodField(help_text="In the detail only (and after create).")

    SEND_FIELDS = ["id", "state", "vendor_account", "attempts", "error", "call"]
    TIMES = ["created_at", "sent_at", "updated_at"]

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, obj: Send) -> dict | None:
        if obj.state != Send.State.FAILED:
            return None
        return ErrorSerializer(obj, context=self.context).data

    @extend_schema_field(ReportedCallSerializer(allow_null=True))
    def get_call(self, obj: Send) -> dict | None:
        view = self.context.get("view")
        if getattr(view, "action", "") == "list":
            return None  # one look-up per row: the detail has it
        progress = selectors.call_progress(obj)
        return ReportedCallSerializer(progress, context=self.context).data


# --------------------------------------------------------------------- two-way calls


class TwoWayCallSerializer(SendSerializer):
    from_number = MaskedNumberField(read_only=True)
    to_number = MaskedNumberField(read_only=True)
    options = serializers.SerializerMethodField()

    class Meta:
        model = TwoWayCall
        fields = [
            *SendSerializer.SEND_FIELDS,
            "sub_account",
            "from_number",
            "to_number",
            "options",
            "call_sid",
            "vendor_created_at",
            *SendSerializer.TIMES,
        ]
        read_only_fields = fields

    def get_options(self, obj: TwoWayCall) -> dict:
        user = getattr(self.context.get("request"), "user", None)
        return {
            key: display_number(value, user) if key in calls._DISPLAY_OPTIONS else value
            for key, value in obj.options.items()
        }


class TwoWayCallCreateSerializer(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())
    sub_account = serializers.PrimaryKeyRelatedField(
        queryset=SubAccount.objects.all(),
        required=False,
        allow_null=True,
        help_text="Signs the call; default: the account's first usable sub-account.",
    )
    from_number = serializers.CharField(max_length=32, help_text="Rung first.")
    to_number = serializers.CharField(max_length=32, help_text="Rung once from answers.")
    customer_ser_num = serializers.CharField(
        max_length=32, required=False, help_text="customerSerNum: the number the callee sees."
    )
    from_ser_num = serializers.CharField(
        max_length=32, required=False, help_text="fromSerNum: the number the caller sees."
    )
    prompt_tone = serializers.CharField(max_length=128, required=False, help_text="promptTone")
    always_play = serializers.BooleanField(required=False, allow_null=True, default=None)
    terminal_dtmf = serializers.CharField(max_length=1, required=False)
    user_data = serializers.CharField(max_length=256, required=False, help_text="userData")
    max_call_time = serializers.IntegerField(
        min_value=1, max_value=999999, required=False, help_text="maxCallTime, seconds."
    )
    need_both_cdr = serializers.BooleanField(required=False, allow_null=True, default=None)
    need_record = serializers.BooleanField(required=False, allow_null=True, default=None)
    count_down_time = serializers.IntegerField(
        min_value=1, max_value=999999, required=False, help_text="countDownTime, seconds."
    )
    count_down_prompt = serializers.CharField(max_length=128, required=False)

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        options = {k: data.pop(k) for k in calls.TWO_WAY_OPTIONS if k in data}
        return {**data, "options": options}


TWO_WAY_EXAMPLES = [
    OpenApiExample(
        "Two-way call",
        request_only=True,
        value={
            "vendor_account": 1,
            "from_number": "13800000001",
            "to_number": "13900000002",
            "from_ser_num": "02560000001",
            "max_call_time": 600,
            "need_record": True,
        },
    ),
    OpenApiExample(
        "Accepted (pending)",
        response_only=True,
        status_codes=["202"],
        value={
            "id": 7,
            "state": "pending",
            "vendor_account": 1,
            "attempts": 0,
            "error": None,
            "call": {"outcome": "", "last_event": "", "events": [], "record": None},
            "sub_account": 3,
            "from_number": "138****0001",
            "to_number": "139****0002",
            "options": {"from_ser_num": "025****0001", "max_call_time": 600, "need_record": True},
            "call_sid": "",
            "vendor_created_at": None,
            "created_at": "2026-01-31T12:00:00Z",
            "sent_at": None,
            "updated_at": "2026-01-31T12:00:00Z",
        },
    ),
]

# --------------------------------------------------------------------- voice codes


class VoiceCodeSerializer(SendSerializer):
    callee_number = MaskedNumberField(read_only=True)
    display_number = MaskedNumberField(read_only=True)
    user_data = MaskedTextField(read_only=True)
    verify_code = serializers.SerializerMethodField(help_text='Always "****": never shown.')

    class Meta:
        model = VoiceCode
        fields = [
            *SendSerializer.SEND_FIELDS,
            "callee_number",
            "display_number",
            "verify_code",
            "code_length",
            "language_type",
            "pre_tone",
            "pos_tone",
            "times",
            "user_data",
            "session_id",
            *SendSerializer.TIMES,
        ]
        read_only_fields = fields

    def get_verify_code(self, obj: VoiceCode) -> str:
        return calls.MASK


class VoiceCodeCreateSerializer(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())
    callee_number = serializers.CharField(max_length=32)
    verify_code = serializers.CharField(
        max_length=8, write_only=True, help_text="2-8 digits; never shown again."
    )
    display_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="displayNbr; default: the account's display_number setting.",
    )
    language_type = serializers.ChoiceField(choices=[2], default=2, help_text="2: Chinese.")
    pre_tone = serializers.CharField(max_length=128, help_text="preTone, e.g. welcome.wav.")
    pos_tone = serializers.CharField(max_length=128, required=False, allow_blank=True)
    times = serializers.IntegerField(min_value=0, max_value=9, required=False, allow_null=True)
    user_data = serializers.CharField(max_length=256, required=False, allow_blank=True)

    def service_kwargs(self) -> dict:
        return dict(self.validated_data)


VOICE_EXAMPLES = [
    OpenApiExample(
        "Voice code",
        request_only=True,
        value={
            "vendor_account": 2,
            "callee_number": "+8613800000021",
            "verify_code": "123456",
            "pre_tone": "welcome.wav",
            "times": 2,
        },
    ),
    OpenApiExample(
        "Sent, call answered",
        response_only=True,
        status_codes=["200"],
        value={
            "id": 9,
            "state": "sent",
            "vendor_account": 2,
            "attempts": 1,
            "error": None,
            "call": {
                "outcome": "answered",
                "last_event": "disconnect",
                "events": [
                    {
                        "kind": "callout",
                        "occurred_at": "2026-01-31T12:00:01Z",
                        "state_code": "",
                        "state_text": "",
                    },
                ],
                "record": {
                    "id": 31,
                    "has_cdr": True,
                    "outcome": "answered",
                    "duration": 12,
                    "answer_at": "2026-01-31T12:00:05Z",
                    "release_at": "2026-01-31T12:00:17Z",
                },
            },
            "callee_number": "138****0021",
            "display_number": "+86755****0088",
            "verify_code": "****",
            "code_length": 6,
            "language_type": 2,
            "pre_tone": "welcome.wav",
            "pos_tone": "",
            "times": 2,
            "user_data": "",
            "session_id": "1200_366_0_20260131120000@callenabler.example.com",
            "created_at": "2026-01-31T12:00:00Z",
            "sent_at": "2026-01-31T12:00:01Z",
            "updated_at": "2026-01-31T12:00:01Z",
        },
    ),
]

# --------------------------------------------------------------------- views

ERRORS = {
    400: OpenApiResponse(description="Validation error: {message, extra: {fields}}"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Missing permission"),
    409: OpenApiResponse(description="Idempotency-Key reused for another request"),
    429: OpenApiResponse(description="Rate limit reached (Retry-After); nothing was sent"),
}


class SendViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List, detail, and create through `create_service` (a messaging.services function)."""

    create_serializer_class: type[serializers.Serializer]

    def create_service(self, **kwargs):
        raise NotImplementedError

    def create(self, request):
        data = self.create_serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency.key_from_request(request)
        try:
            row, created = self.create_service(
                **data.service_kwargs(), created_by=request.user, idempotency_key=key
            )
        except idempotency.IdempotencyConflict as exc:
            raise Conflict(idempotency.conflict_text(key, exc.instance)) from exc
        except limits.RateLimitExceeded as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from exc
        row.refresh_from_db()  # eager tasks (the quick start) may have sent it already
        body = self.get_serializer(row).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


def _create_schema(request, response, examples):
    return extend_schema(
        request=request,
        parameters=[idempotency.IDEMPOTENCY_PARAMETER],
        responses={
            202: response,
            200: OpenApiResponse(response, description="Replayed Idempotency-Key"),
            **ERRORS,
        },
        examples=examples,
    )


@extend_schema_view(
    create=_create_schema(TwoWayCallCreateSerializer, TwoWayCallSerializer, TWO_WAY_EXAMPLES)
)
class TwoWayCallViewSet(SendViewSet):
    """Two-way calls: the vendor rings from_number, then connects to_number."""

    serializer_class = TwoWayCallSerializer
    create_serializer_class = TwoWayCallCreateSerializer
    queryset = TwoWayCall.objects.select_related("vendor_account")
    filterset_class = TwoWayCallFilter

    def create_service(self, **kwargs):
        return calls.two_way_call_create(**kwargs)


@extend_schema_view(
    create=_create_schema(VoiceCodeCreateSerializer, VoiceCodeSerializer, VOICE_EXAMPLES),
    retrieve=extend_schema(examples=VOICE_EXAMPLES[1:]),
)
class VoiceCodeViewSet(SendViewSet):
    """Voice verification codes: the vendor calls and reads the code out."""

    serializer_class = VoiceCodeSerializer
    create_serializer_class = VoiceCodeCreateSerializer
    queryset = VoiceCode.objects.select_related("vendor_account")
    filterset_class = VoiceCodeFilter

    def create_service(self, **kwargs):
        return calls.voice_code_create(**kwargs)
