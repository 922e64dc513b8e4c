"""REST API for bindings (/api/v1/bindings/). Serializers shape data; privacy.services writes.

POST answers 202 at once with the binding in state "pending"; poll GET until it
is active or failed. An `Idempotency-Key` header makes a retried POST return the
binding the first one made (200, same id) instead of making a second.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import VendorAccount
from core import idempotency
from core.api import Conflict
from core.serializers import MaskedNumberField, MaskedTextField
from privacy import kinds, services
from privacy.filters import BindingFilter
from privacy.models import Binding


class FailureSerializer(serializers.Serializer):
    """The failure fields of a Binding. Vendor texts may name numbers ("X 138… is not
    this account's number"), so they are masked like the number fields."""

    code = serializers.CharField(source="failure_code")
    text = MaskedTextField(
        source="failure_text", help_text="The vendor's original text (often Chinese)."
    )
    text_en = MaskedTextField(source="failure_text_en", help_text="English gloss.")
    advice = MaskedTextField(source="failure_advice")


class BindingSerializer(serializers.ModelSerializer):
    x_number = MaskedNumberField(
        source="x_number_value",
        read_only=True,
        help_text="The pool number, or for cyj the number the vendor chose.",
    )
    a_number = MaskedNumberField(read_only=True)
    b_number = MaskedNumberField(read_only=True)
    # cyj's binding id is its X number; igw's subid is masked only where it has a
    # number-like run, like any other text.
    vendor_binding_id = MaskedTextField(read_only=True)
    user_data = MaskedTextField(read_only=True)
    failure = serializers.SerializerMethodField()

    class Meta:
        model = Binding
        fields = [
            "id",
            "kind",
            "state",
            "vendor_account",
            "x_number",
            "a_number",
            "b_number",
            "area_code",
            "ttl",
            "expires_at",
            "record",
            "display",
            "direct",
            "anucode",
            "ansanu",
            "user_data",
            "vendor_binding_id",
            "failure",
            "created_at",
            "updated_at",
            "activated_at",
            "ended_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FailureSerializer(allow_null=True))
    def get_failure(self, obj: Binding) -> dict | None:
        if obj.state != Binding.State.FAILED:
            return None
        return FailureSerializer(obj, context=self.context).data


def _per_kind(describe) -> str:
    """`kind: text` for each kind whose spec `describe` has something to say about."""
    return " | ".join(
        f"{spec.code}: {text}" for spec in kinds.KINDS.values() if (text := describe(spec))
    )


class BindingCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[])
    vendor_account = serializers.PrimaryKeyRelatedField(queryset=VendorAccount.objects.all())
    a_number = serializers.CharField(max_length=32)
    b_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Required for "
        + ", ".join(k.code for k in kinds.KINDS.values() if k.has_b_number)
        + "; not taken by the others.",
    )
    x_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A number of the account's pool; omit to have one allocated.",
    )
    area_code = serializers.CharField(
        max_length=8, required=False, allow_blank=True, help_text="Allocate only in this area."
    )
    ttl = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Seconds. " + _per_kind(lambda spec: spec.ttl_help),
    )
    record = serializers.BooleanField(required=False, default=False)
    display = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        help_text=_per_kind(lambda spec: "; ".join(t for _, t in spec.display_choices)),
    )
    direct = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=_per_kind(lambda spec: "; ".join(t for _, t in spec.direct_choices)),
    )
    anucode = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ansanu = serializers.CharField(max_length=64, required=False, allow_blank=True)
    user_data = serializers.CharField(max_length=256, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per request: a vendor registered later offers its kinds at once.
        self.fields["kind"].choices = kinds.choices()


class CanReleaseBinding(permissions.BasePermission):
    """Release changes a binding: privacy.change_binding, whatever the HTTP method says."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("privacy.change_binding"))


ERRORS = {
    400: OpenApiResponse(description="Validation error: {message, extra: {fields}}"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Missing permission"),
}


class BindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Privacy-number bindings (igw AXB and XA, cyj)."""

    serializer_class = BindingSerializer
    queryset = Binding.objects.select_related("vendor_account", "x_number")
    # The list page's filter set: same parameters, same number-search rule.
    filter_backends = [DjangoFilterBackend]
    filterset_class = BindingFilter

    def get_permissions(self):
        if self.action == "release":
            return [CanReleaseBinding()]
        return super().get_permissions()

    @extend_schema(
        request=BindingCreateSerializer,
        parameters=[idempotency.IDEMPOTENCY_PARAMETER],
        responses={
            202: BindingSerializer,
            200: OpenApiResponse(BindingSerializer, description="Replayed Idempotency-Key"),
            409: OpenApiResponse(description="Idempotency-Key reused for another request"),
            **ERRORS,
        },
    )
    def create(self, request):
        """Create a binding: 202 with state "pending"; a worker asks the vendor."""
        data = BindingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency.key_from_request(request)
        try:
            # The service says whether it replayed: a look-up here first would race a
            # twin request and answer 202 to both.
            binding, created = services.binding_create_or_replay(
                **data.validated_data, created_by=request.user, idempotency_key=key
            )
        except services.IdempotencyConflict as exc:
            raise Conflict(idempotency.conflict_text(key, exc.binding)) from exc
        body = BindingSerializer(binding, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={202: BindingSerializer, 404: OpenApiResponse(description="Not found"), **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Release: igw goes to "releasing" and a worker unbinds it; cyj is released at once
        (kinds that release locally: privacy.kinds)."""
        binding = self.get_object()
        binding = services.binding_release(binding=binding, actor=request.user)
        body = BindingSerializer(binding, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
