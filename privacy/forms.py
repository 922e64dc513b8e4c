"""Browser forms for bindings: shape input only; privacy.services validates and writes."""

from django import forms

from accounts.models import VendorAccount
from privacy import kinds
from privacy.models import Binding


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: VendorAccount) -> str:
        return obj.name if obj.enabled else f"{obj.name} (disabled)"


class BindingForm(forms.Form):
    """One form for every kind; its spec (privacy.kinds) says which fields apply, their
    choices and help; the others are removed."""

    vendor_account = AccountChoiceField(queryset=VendorAccount.objects.none())
    a_number = forms.CharField(max_length=32, label="A number")
    b_number = forms.CharField(max_length=32, label="B number")
    x_number = forms.CharField(
        max_length=32,
        required=False,
        label="X number",
        help_text="Leave empty to allocate the least-loaded free X of the account's pool.",
    )
    area_code = forms.CharField(
        max_length=8,
        required=False,
        help_text="Only allocate an X of this area (e.g. 010). Ignored when X is given.",
    )
    ttl = forms.IntegerField(label="TTL (seconds)", min_value=0)
    record = forms.BooleanField(required=False, label="Record calls")
    display = forms.ChoiceField(required=False)
    direct = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Call direction"
    )
    anucode = forms.CharField(
        max_length=64,
        required=False,
        label="Announcement codes",
        help_text="igw: comma-separated codes for B->X, A->X, others->X.",
    )
    ansanu = forms.CharField(
        max_length=64, required=False, label="Announcement after answer (igw AXB)"
    )
    user_data = forms.CharField(
        max_length=256, required=False, help_text="Returned in the vendor's call records."
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.spec = spec = kinds.KINDS[kind]
        accounts = VendorAccount.objects.filter(vendor=spec.vendor, enabled=True)
        self.fields["vendor_account"].queryset = accounts
        if not self.is_bound and len(choices := list(accounts[:2])) == 1:
            # One account can do this kind: choose it rather than make the operator.
            self.initial.setdefault("vendor_account", choices[0].pk)
        self._shape_ttl(spec)
        self.fields["x_number"].help_text = spec.x_help
        if spec.has_display:
            self.fields["display"].choices = list(spec.display_choices)
        if spec.has_direct:
            self.fields["direct"].choices = list(spec.direct_choices)
        for name in kinds.OPTIONAL_INPUTS:
            if not spec.takes(name):
                del self.fields[name]

    def _shape_ttl(self, spec: kinds.BindingKind) -> None:
        ttl = self.fields["ttl"]
        ttl.required = spec.ttl_required
        ttl.help_text = spec.ttl_help
        # Where to start typing: the kind's usual ttl, not necessarily its default.
        ttl.initial = spec.form_ttl

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.setdefault("b_number", "")
        return data


class BindingIdsField(forms.ModelMultipleChoiceField):
    """Binding ids from the list's checkboxes; refuses more than `limit` before any query."""

    def __init__(self, *args, limit: int, **kwargs):
        self.limit = limit
        super().__init__(*args, **kwargs)

    def clean(self, value):
        if value and len(value) > self.limit:
            raise forms.ValidationError(f"Select at most {self.limit} bindings at once.")
        return super().clean(value)


class BulkReleaseForm(forms.Form):
    """The bulk release POST: which bindings, and whether the user has confirmed."""

    LIMIT = 500

    ids = BindingIdsField(
        queryset=Binding.objects.select_related("vendor_account", "x_number"),
        limit=LIMIT,
        error_messages={
            "required": "Select at least one binding.",
            "invalid_choice": "Binding %(value)s no longer exists.",
            "invalid_pk_value": "%(pk)s is not a binding id.",
        },
    )
    confirm = forms.BooleanField(required=False)


class PoolFilterForm(forms.Form):
    """The pool page's filters."""

    vendor_account = forms.ModelChoiceField(
        queryset=VendorAccount.objects.filter(vendor__in=kinds.vendors()),
        required=False,
    )
    area_code = forms.CharField(max_length=8, required=False)
