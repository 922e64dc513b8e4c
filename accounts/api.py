"""REST API for vendor accounts and the number pool (/api/v1/vendor-accounts/, /numbers/).

Serializers only shape data; writes go through accounts.services.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts import selectors, services
from accounts.filters import NumberFilter, VendorAccountFilter
from accounts.models import PrivacyNumber, VendorAccount, vendor_choices
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
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
