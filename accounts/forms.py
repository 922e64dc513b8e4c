"""Browser forms for accounts. Validation and writes happen in accounts.services."""

import json

from django import forms

import vendors
from accounts.models import PrivacyNumber, VendorAccount, vendor_choices
from accounts.services import IMPORT_HEADER
from accounts.vendor_settings import COMMON, vendor_settings


def _extra_help() -> str:
    lines = [f"{k}: {s.help}" for k, s in COMMON.items()]
    for vendor, settings in vendor_settings().items():
        lines += [f"{k} ({vendor}): {s.help}" for k, s in settings.items()]
    return " · ".join(lines)


def credential_help() -> str:
    """What account ID / secret / app ID mean at each vendor, from the registry."""
    return " · ".join(
        f"{code} {' / '.join(cls.credential_names)}" for code, cls in vendors.REGISTRY.items()
    )


class VendorAccountForm(forms.Form):
    vendor = forms.ChoiceField(choices=vendor_choices)
    name = forms.CharField(max_length=100)
    base_url = forms.URLField(max_length=300, assume_scheme="https")
    account_id = forms.CharField(max_length=128, label="Account ID")
    # Write-only: the stored secret is never rendered back into the page.
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
    )
    app_id = forms.CharField(max_length=128, required=False, label="App ID")
    extra = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Extra settings (JSON)",
        help_text=_extra_help(),
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, instance: VendorAccount | None = None, **kwargs):
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "vendor": instance.vendor,
                    "name": instance.name,
                    "base_url": instance.base_url,
                    "account_id": instance.account_id,
                    "app_id": instance.app_id,
                    "extra": json.dumps(instance.extra, indent=2) if instance.extra else "",
                    "enabled": instance.enabled,
                },
            )
        super().__init__(*args, **kwargs)
        # Read per form: a vendor registered after import documents its settings too.
        self.fields["extra"].help_text = _extra_help()
        self.credential_help = credential_help()
        if instance is not None:
            self.fields["vendor"].disabled = True
            self.fields["secret"].help_text = "A secret is stored. Leave empty to keep it."
        else:
            self.fields["secret"].required = True

    def clean_extra(self):
        text = self.cleaned_data["extra"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Extra settings must be a JSON object.")
        return value


class NumberForm(forms.ModelForm):
    class Meta:
        model = PrivacyNumber
        fields = ["number", "vendor_account", "area_code", "status", "note"]


class NumberImportForm(forms.Form):
    vendor_account = forms.ModelChoiceField(queryset=VendorAccount.objects.all())
    file = forms.FileField(help_text=f"CSV with a header: {IMPORT_HEADER}. UTF-8.")


class SubAccountForm(forms.Form):
    # Length and characters are checked by the service, for the API and the page alike.
    friendly_name = forms.CharField(max_length=100, label="Sub-account name")
