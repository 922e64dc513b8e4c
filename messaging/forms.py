"""Browser forms for sends and send limits: shape input only; messaging.services
validates and writes."""

from django import forms

from accounts.models import SubAccount, VendorAccount
from messaging import selectors, sms
from messaging.models import Message, SendPolicy


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: VendorAccount) -> str:
        return obj.name


class SmsForm(forms.Form):
    """A plain or a template SMS; the fields the other kind uses are removed."""

    vendor_account = AccountChoiceField(queryset=VendorAccount.objects.none())
    to = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=sms.MAX_RECIPIENTS * 34,
        label="Recipients",
        help_text="Phone numbers separated by commas, spaces or new lines "
        f"(at most {sms.MAX_RECIPIENTS}).",
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=sms.MAX_BODY, label="Text"
    )
    msg_type = forms.ChoiceField(choices=sms.MSG_TYPES, initial="0", label="Message type")
    sub_account = forms.ModelChoiceField(
        queryset=SubAccount.objects.none(),
        required=False,
        help_text="Optional: sent as the vendor's subAccountSid.",
    )
    template_id = forms.CharField(max_length=32, label="Template id")
    datas = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=sms.MAX_DATAS * (sms.MAX_DATA_LENGTH + 2),
        label="Template parameters",
        help_text=f"One per line, in the template's order (at most {sms.MAX_DATAS}, "
        f"{sms.MAX_DATA_LENGTH} characters each).",
    )

    PLAIN_ONLY = ("body", "msg_type", "sub_account")
    TEMPLATE_ONLY = ("template_id", "datas")

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        accounts = selectors.sms_accounts()
        self.fields["vendor_account"].queryset = accounts
        self.fields["sub_account"].queryset = selectors.sms_sub_accounts()
        drop = self.TEMPLATE_ONLY if kind == Message.Kind.PLAIN else self.PLAIN_ONLY
        for name in drop:
            del self.fields[name]
        if not self.is_bound and len(choices := list(accounts[:2])) == 1:
            self.initial.setdefault("vendor_account", choices[0].pk)

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if "datas" in data:
            data["datas"] = [line.strip() for line in data["datas"].splitlines() if line.strip()]
        return {"kind": self.kind, **data}


class SendPolicyForm(forms.ModelForm):
    class Meta:
        model = SendPolicy
        fields = ["per_minute", "per_day", "recipient_per_hour"]
        help_texts = {
            "per_minute": "Sends (one per recipient) a minute; blank: the default; 0: no limit.",
            "per_day": "Sends a day (UTC); blank: the default; 0: no limit.",
            "recipient_per_hour": "Voice codes to one number an hour; blank: the default.",
        }
