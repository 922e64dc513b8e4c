"""REST API for SMS (/api/v1/sms/). Serializers shape data; messaging.services writes.

POST answers 202 at once with the message "pending" and a row per recipient
"queued"; poll GET until it is sent, partial or failed. An `Idempotency-Key` makes
a retried POST return the first message (200) instead of sending again. A send over
the account's rate limit is a 429 with Retry-After, and nothing is sent.
"""

from django_filters.rest_framework import DjangoFilterBackend
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
from core.serializers import MaskedNumberField, MaskedTextField
from messaging import selectors, services, sms
from messaging.filters import MessageFilter
from messaging.models import Message, MessageRecipient


class ErrorSerializer(serializers.Serializer):
    """A send's failure. Vendor texts may name numbers, so they are masked too."""

    code = serializers.CharField(source="error_code")
    text = MaskedTextField(source="error_text", help_text="The vendor's own text (often Chinese).")
    text_en = MaskedTextField(source="error_text_en", help_text="English gloss; names the rule.")
    advice = MaskedTextField(source="error_advice")


class RecipientSerializer(serializers.ModelSerializer):
    number = MaskedNumberField(read_only=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = MessageRecipient
        fields = ["number", "batch", "state", "sms_message_sid", "vendor_created_at", "error"]
        read_only_fields = fields

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, obj) -> dict | None:
        return ErrorSerializer(obj, context=self.context).data if obj.error_code else None


class MessageSerializer(serializers.ModelSerializer):
    body = MaskedTextField(read_only=True)
    datas = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "kind",
            "state",
            "vendor_account",
            "sub_account",
            "recipient_count",
            "body",
            "msg_type",
            "template_id",
            "datas",
            "error",
            "attempts",
            "created_at",
            "updated_at",
            "sent_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_datas(self, obj) -> list[str]:
        text = MaskedTextField(read_only=True)
        text.bind("datas", self)
        return [text.to_representation(item) for item in obj.datas or []]

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, obj) -> dict | None:
        return ErrorSerializer(obj, context=self.context).data if obj.error_code else None


class MessageDetailSerializer(MessageSerializer):
    recipients = RecipientSerializer(many=True, read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "recipients"]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())
    kind = serializers.ChoiceField(choices=Message.Kind.choices, default=Message.Kind.PLAIN)
    to = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=sms.MAX_RECIPIENTS,
        help_text="Phone numbers in any accepted form; sent in batches of the vendor's maximum.",
    )
    body = serializers.CharField(
        required=False, allow_blank=True, max_length=sms.MAX_BODY, help_text="Plain SMS only."
    )
    msg_type = serializers.ChoiceField(choices=sms.MSG_TYPES, default="0", required=False)
    template_id = serializers.CharField(required=False, allow_blank=True, max_length=32)
    datas = serializers.ListField(
        child=serializers.CharField(max_length=sms.MAX_DATA_LENGTH, allow_blank=True),
        required=False,
        max_length=sms.MAX_DATAS,
        help_text="Template SMS parameters, in the template's order.",
    )
    sub_account = serializers.PrimaryKeyRelatedField(
        queryset=SubAccount.objects.all(),
        required=False,
        allow_null=True,
        help_text="Plain SMS only: sent as subAccountSid.",
    )


ERRORS = {
    400: OpenApiResponse(description="Validation error: {message, extra: {fields}}"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Missing permission"),
}

EXAMPLES = [
    OpenApiExample(
        "Plain SMS",
        request_only=True,
        value={"vendor_account": 1, "to": ["13800138000", "+8613900139000"], "body": "Hello"},
    ),
    OpenApiExample(
        "Template SMS",
        request_only=True,
        value={
            "vendor_account": 1,
            "kind": "template",
            "to": ["13800138000"],
            "template_id": "1",
            "datas": ["1234", "5"],
        },
    ),
    OpenApiExample(
        "Accepted",
        response_only=True,
        status_codes=["202"],
        value={
            "id": 42,
            "kind": "plain",
            "state": "pending",
            "vendor_account": 1,
            "sub_account": None,
            "recipient_count": 2,
            "body": "Hello",
            "msg_type": "0",
            "template_id": "",
            "datas": [],
            "error": None,
            "attempts": 0,
            "created_at": "2026-11-30T02:00:00Z",
            "updated_at": "2026-11-30T02:00:00Z",
            "sent_at": None,
            "recipients": [
                {
                    "number": "138****8000",
                    "batch": 0,
                    "state": "queued",
                    "sms_message_sid": "",
                    "vendor_created_at": None,
                    "error": None,
                }
            ],
        },
    ),
]


@extend_schema_view(
    list=extend_schema(summary="List SMS messages, filtered by state, kind, account, number, date"),
    retrieve=extend_schema(summary="One message with each recipient's state"),
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SMS and template SMS."""

    queryset = Message.objects.select_related("vendor_account")
    filter_backends = [DjangoFilterBackend]
    filterset_class = MessageFilter

    def get_serializer_class(self):
        return MessageSerializer if self.action == "list" else MessageDetailSerializer

    def get_queryset(self):
        if self.action == "retrieve":
            return super().get_queryset().prefetch_related("recipients")
        return super().get_queryset()

    @extend_schema(
        request=MessageCreateSerializer,
        parameters=[idempotency.IDEMPOTENCY_PARAMETER],
        examples=EXAMPLES,
        responses={
            202: MessageDetailSerializer,
            200: OpenApiResponse(MessageDetailSerializer, description="Replayed Idempotency-Key"),
            409: OpenApiResponse(description="Idempotency-Key reused for another request"),
            429: OpenApiResponse(
                description="Send rate limit reached; Retry-After says when; nothing was sent"
            ),
            **ERRORS,
        },
    )
    def create(self, request):
        """Send an SMS or template SMS: 202 with state "pending"; a worker calls the vendor."""
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency.key_from_request(request)
        try:
            message, created = services.message_create_or_replay(
                **data.validated_data, created_by=request.user, idempotency_key=key
            )
        except services.IdempotencyConflict as exc:
            raise Conflict(idempotency.conflict_text(key, exc.instance)) from exc
        except services.RateLimitExceeded as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from exc
        # As it stands now: an eager task (the tests, a quick start) may have sent it.
        message = selectors.message_get(pk=message.pk)
        body = MessageDetailSerializer(message, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)
