"""REST API for vendor accounts, sub-accounts and the number pool
(/api/v1/vendor-accounts/, /sub-accounts/, /numbers/).

Serializers only shape data; writes go through accounts.services.

Sub-accounts: POST answers 202 at once with the sub-account in state "pending";
poll GET until it is active or failed. A sync is asked on the collection,
POST /api/v1/sub-accounts/sync/ {"vendor_account": id}, because it reads the
vendor's whole list for one vendor account (202; the account's last sync time
and error say when it is done). Tokens and VoIP passwords are never returned.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts import selectors, services
from accounts.filters import NumberFilter, SubAccountFilter, VendorAccountFilter
from accounts.models import PrivacyNumber, SubAccount, VendorAccount, vendor_choices
from core.api import Conflict
from core.parsers import JSONParser
from core.serializers import MaskedNumberField, MaskedTextField


class VendorAccountSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    vendor = serializers.ChoiceField(choices=[])  # the registry's, set per instance
    secret_set = serializers.SerializerMethodField()
    webhook_urls = serializers.SerializerMethodField()
    # The vendor's text may name numbers, like every vendor message.
    sub_accounts_sync_error = MaskedTextField(read_only=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # DRF freezes choices when the field is built: read the registry now.
        self.fields["vendor"].choices = vendor_choices()

    class Meta:
        model = VendorAccount
        fields = [
            "id",
            "vendor",
            "name",
            "base_url",
            "account_id",
            "secret",
            "secret_set",
            "app_id",
            "extra",
            "enabled",
            "webhook_urls",
            "sub_accounts_synced_at",
            "sub_accounts_sync_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "created_at",
            "updated_at",
            "sub_accounts_synced_at",
            "sub_accounts_sync_error",
        ]
        # Uniqueness is checked by the service, in the same transaction as the write.
        extra_kwargs = {"name": {"validators": []}}

    def get_secret_set(self, obj) -> bool:
        return bool(obj.secret)

    def get_webhook_urls(self, obj) -> dict[str, str]:
        return selectors.webhook_urls(account=obj)

    def validate(self, attrs):
        if self.instance is None and not attrs.get("secret"):
            raise serializers.ValidationError({"secret": "This field is required."})
        if (
            self.instance is not None
            and "vendor" in attrs
            and attrs["vendor"] != self.instance.vendor
        ):
            raise serializers.ValidationError({"vendor": "The vendor of an account cannot change."})
        return attrs


class NumberSerializer(serializers.ModelSerializer):
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())
    number = MaskedNumberField(max_length=32)
    note = MaskedTextField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = PrivacyNumber
        fields = ["id", "number", "vendor_account", *services.NUMBER_FIELDS, "created_at"]
        read_only_fields = ["created_at"]


class NumberImportInput(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(
        queryset=VendorAccount.objects.all(),
        error_messages={"required": "Choose an existing vendor account."},
    )
    file = serializers.FileField(required=False)
    csv = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class VendorAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Vendor accounts. Disable with PATCH {"enabled": false}; accounts are never deleted
    here, because bindings and call records refer to them."""

    serializer_class = VendorAccountSerializer
    queryset = VendorAccount.objects.all()
    filterset_class = VendorAccountFilter

    def perform_create(self, serializer):
        serializer.instance = services.vendor_account_create(**serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("vendor", None)
        serializer.instance = services.vendor_account_update(account=serializer.instance, **data)

    @extend_schema(request=None, responses=VendorAccountSerializer)
    @action(detail=True, methods=["post"], url_path="regenerate-webhook-token")
    def regenerate_webhook_token(self, request, pk=None):
        account = services.vendor_account_regenerate_webhook_token(account=self.get_object())
        return Response(self.get_serializer(account).data)


class NumberViewSet(viewsets.ModelViewSet):
    """The X-number pool. Numbers are stored in E.164; send any common form."""

    serializer_class = NumberSerializer
    queryset = PrivacyNumber.objects.select_related("vendor_account")
    filterset_class = NumberFilter  # the page's: same parameters, same number-search rule

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.number_create(
            vendor_account=data["vendor_account"],
            number=data["number"],
            area_code=data.get("area_code", ""),
            status=data.get("status", PrivacyNumber.Status.AVAILABLE),
            note=data.get("note", ""),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        current = serializer.instance
        if data.pop("vendor_account", current.vendor_account) != current.vendor_account:
            raise serializers.ValidationError({"vendor_account": "A number cannot move accounts."})
        if "number" in data and data.pop("number") not in (current.number,):
            raise serializers.ValidationError(
                {"number": "A pool number cannot change; add the new number instead."}
            )
        serializer.instance = services.number_update(number=serializer.instance, **data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="Bindings refer to the number: {message, extra}"),
        }
    )
    def destroy(self, request, *args, **kwargs):
        """Remove a number from the pool; 409 while bindings refer to it (retire it instead)."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        try:
            services.number_delete(number=instance)
        except DjangoValidationError as exc:
            # The request is well formed; the number's state forbids it: 409, not 400.
            raise Conflict(" ".join(exc.messages)) from exc

    @extend_schema(
        request=NumberImportInput,
        responses=inline_serializer("NumberImportResult", {"created": serializers.IntegerField()}),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
    )
    def import_csv(self, request):
        """Bulk import from CSV (columns number[,area_code,status,note]); all or nothing."""
        data = NumberImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = data.validated_data["vendor_account"]
        upload = data.validated_data.get("file")
        if upload is not None:
            text = services.import_file_text(upload=upload)
        else:
            text = data.validated_data.get("csv", "")
        if not text:
            raise serializers.ValidationError({"file": "Upload a CSV file (or send it as 'csv')."})
        try:
            created = services.numbers_import_csv(vendor_account=account, csv_text=text)
        except services.NumberImportError as exc:
            # Built by hand: DRF's ValidationError would turn the line numbers into strings.
            problems = [{"line": p.line, "reason": p.reason} for p in exc.problems]
            return Response(
                {"message": "Validation error", "extra": {"fields": {"file": problems}}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"created": len(created)}, status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- sub-accounts


class SubAccountFailureSerializer(serializers.Serializer):
    """Why the vendor did not create it. Vendor texts may name numbers: masked."""

    code = serializers.CharField(source="failure_code")
    text = MaskedTextField(source="failure_text", help_text="The vendor's own text.")
    text_en = MaskedTextField(source="failure_text_en", help_text="English gloss.")


class SubAccountSerializer(serializers.ModelSerializer):
    # A name is free text: masked where it has a number in it, like every other.
    friendly_name = MaskedTextField(read_only=True)
    token_set = serializers.SerializerMethodField(
        help_text="Whether the vendor's subToken is stored (encrypted; never returned)."
    )
    failure = serializers.SerializerMethodField()

    class Meta:
        model = SubAccount
        fields = [
            "id",
            "vendor_account",
            "friendly_name",
            "state",
            "sub_account_sid",
            "voip_account",
            "status",
            "type",
            "token_set",
            "failure",
            "vendor_created_at",
            "seen_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_token_set(self, obj: SubAccount) -> bool:
        return bool(obj.sub_token)

    @extend_schema_field(SubAccountFailureSerializer(allow_null=True))
    def get_failure(self, obj: SubAccount) -> dict | None:
        if obj.state != SubAccount.State.FAILED:
            return None
        return SubAccountFailureSerializer(obj, context=self.context).data


class SubAccountCreateSerializer(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(
        queryset=VendorAccount.objects.all(),
        help_text="A vendor account whose vendor has sub-accounts.",
    )
    friendly_name = serializers.CharField(max_length=100, help_text="Unique per account.")


class SubAccountSyncSerializer(serializers.Serializer):
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())


class SubAccountSyncStatusSerializer(serializers.Serializer):
    vendor_account = serializers.IntegerField(source="pk")
    last_synced_at = serializers.DateTimeField(source="sub_accounts_synced_at", allow_null=True)
    last_sync_error = MaskedTextField(source="sub_accounts_sync_error")


class CanSyncSubAccounts(permissions.BasePermission):
    """A sync changes sub-accounts: accounts.change_subaccount."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("accounts.change_subaccount"))


_PENDING_EXAMPLE = {
    "id": 7,
    "vendor_account": 2,
    "friendly_name": "shop-1",
    "state": "pending",
    "sub_account_sid": "",
    "voip_account": "",
    "status": "",
    "type": "",
    "token_set": False,
    "failure": None,
    "vendor_created_at": None,
    "seen_at": None,
    "created_at": "2026-11-30T10:00:00+08:00",
    "updated_at": "2026-11-30T10:00:00+08:00",
}
_FAILED_EXAMPLE = {
    **_PENDING_EXAMPLE,
    "state": "failed",
    "failure": {"code": "111109", "text": "【账号】sig 不匹配", "text_en": "sig does not match"},
}
_ACTIVE_EXAMPLE = {
    **_PENDING_EXAMPLE,
    "state": "active",
    "sub_account_sid": "2fa3c5e2b8f04d1c9e7a6b5d4c3b2a19",
    "voip_account": "80000000000017",
    "status": "1",
    "type": "1",
    "token_set": True,
    "vendor_created_at": "2026-11-30T10:00:01+08:00",
    "seen_at": "2026-11-30T10:00:01+08:00",
}
_ERRORS = {
    400: OpenApiResponse(description="Validation error: {message, extra: {fields}}"),
    403: OpenApiResponse(description="Missing permission"),
}


@extend_schema(
    examples=[
        OpenApiExample("Active", value=_ACTIVE_EXAMPLE, response_only=True),
        OpenApiExample("Failed at the vendor", value=_FAILED_EXAMPLE, response_only=True),
    ]
)
class SubAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sub-accounts of vendor accounts whose vendor has them. Never deleted here: one the
    vendor no longer lists is kept, in state "gone"."""

    serializer_class = SubAccountSerializer
    queryset = SubAccount.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = SubAccountFilter

    def get_permissions(self):
        if self.action == "sync":
            return [CanSyncSubAccounts()]
        return super().get_permissions()

    @extend_schema(
        request=SubAccountCreateSerializer,
        responses={202: SubAccountSerializer, **_ERRORS},
        examples=[
            OpenApiExample(
                "Create", value={"vendor_account": 2, "friendly_name": "shop-1"}, request_only=True
            ),
            OpenApiExample(
                "Pending", value=_PENDING_EXAMPLE, response_only=True, status_codes=["202"]
            ),
        ],
    )
    def create(self, request):
        """Create at the vendor: 202 with state "pending"; a worker asks the vendor, and
        the sub-account turns "active" (sid, VoIP account) or "failed" (the vendor's
        code and text)."""
        data = SubAccountCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sub = services.sub_account_create(**data.validated_data, created_by=request.user)
        sub.refresh_from_db()  # tasks run in-process in the quick start: say what is true now
        body = SubAccountSerializer(sub, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=SubAccountSyncSerializer,
        responses={202: SubAccountSyncStatusSerializer, **_ERRORS},
        examples=[
            OpenApiExample("Sync", value={"vendor_account": 2}, request_only=True),
            OpenApiExample(
                "Queued",
                value={
                    "vendor_account": 2,
                    "last_synced_at": "2026-11-29T03:20:04+08:00",
                    "last_sync_error": "",
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def sync(self, request):
        """Sync one vendor account's sub-accounts from the vendor's list (a worker does it):
        adds those made elsewhere, updates status and type, marks those no longer listed
        "gone". 202 with the previous sync's time and error; poll the list or
        /vendor-accounts/{id}/ (sub_accounts_synced_at) for the new one."""
        data = SubAccountSyncSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = data.validated_data["vendor_account"]
        services.sub_accounts_sync_request(vendor_account=account)
        account.refresh_from_db()
        return Response(
            SubAccountSyncStatusSerializer(account).data, status=status.HTTP_202_ACCEPTED
        )
