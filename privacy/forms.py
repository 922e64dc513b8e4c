"""Browser forms for bindings: shape input only; privacy.services validates and writes."""

from django import forms

from accounts.models import VendorAccount
from privacy import rules
from privacy.models import Binding


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: VendorAccount) -> str:
        return obj.name if obj.enabled else f"{obj.name} (disabled)"


class BindingForm(forms.Form):
    """One form for the three kinds; fields that do not apply to a kind are removed."""

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
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(0, "0 — both ways"), (1, "1 — A calls B only"), (2, "2 — B calls A only")],
        label="Call direction",
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
        vendors = [v for v, kinds in rules.KINDS_BY_VENDOR.items() if kind in kinds]
        accounts = VendorAccount.objects.filter(vendor__in=vendors, enabled=True)
        self.fields["vendor_account"].queryset = accounts
        if not self.is_bound and len(choices := list(accounts[:2])) == 1:
            # One account can do this kind: choose it rather than make the operator.
            self.initial.setdefault("vendor_account", choices[0].pk)
        self.fields["ttl"].initial = rules.DEFAULT_TTL.get(kind)
        drop: tuple[str, ...] = ()
        if kind == Binding.Kind.AXB:
            self.fields["display"].choices = [
                ("0,0", "0,0 — both parties see X"),
                ("0,1", "0,1 — B sees X; A sees B's real number"),
                ("1,0", "1,0 — B sees A's real number; A sees X"),
                ("1,1", "1,1 — both see the real numbers"),
            ]
            self.fields["ttl"].help_text = f"Required, 1..{rules.IGW_MAX_TTL} seconds."
            drop = ("direct",)
        elif kind == Binding.Kind.XA:
            self.fields["display"].choices = [("0", "0 — show X"), ("1", "1 — show real caller")]
            self.fields["ttl"].required = False
            self.fields["ttl"].help_text = "0 or empty: until released."
            drop = ("b_number", "direct", "ansanu")
        else:
            self.fields[
                "ttl"
            ].help_text = (
                f"{rules.CYJ_MIN_TTL}..{rules.CYJ_MAX_TTL} seconds; the vendor unbinds at the end."
            )
            self.fields[
                "x_number"
            ].help_text = (
                "Leave empty to allocate from the pool, or, with no pool, let the vendor pick."
            )
            drop = ("display", "anucode", "ansanu", "user_data", "record")
        for name in drop:
            del self.fields[name]

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
        queryset=VendorAccount.objects.filter(vendor__in=list(rules.KINDS_BY_VENDOR)),
        required=False,
    )
    area_code = forms.CharField(max_length=8, required=False)
