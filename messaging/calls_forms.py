"""Browser forms for two-way calls and voice codes: shape input only; messaging.services
validates and writes. A voice code's code field never renders its value back."""

from __future__ import annotations

from django import forms

from accounts.models import SubAccount, VendorAccount
from messaging import calls, selectors, sending


class _AccountField(forms.ModelChoiceField):
    def label_from_instance(self, obj: VendorAccount) -> str:
        return obj.name


def _one_account_initial(form: forms.Form, accounts) -> None:
    """One account can send this kind: choose it rather than make the operator."""
    if not form.is_bound and len(choices := list(accounts[:2])) == 1:
        form.initial.setdefault("vendor_account", choices[0].pk)


class TwoWayCallForm(forms.Form):
    vendor_account = _AccountField(queryset=VendorAccount.objects.none())
    sub_account = forms.ModelChoiceField(
        queryset=SubAccount.objects.none(),
        required=False,
        help_text="Signs the call. Empty: the account's first usable sub-account.",
    )
    from_number = forms.CharField(max_length=32, label="From (rung first)")
    to_number = forms.CharField(max_length=32, label="To (connected once From answers)")
    from_ser_num = forms.CharField(
        max_length=32, required=False, label="Number the caller sees (fromSerNum)"
    )
    customer_ser_num = forms.CharField(
        max_length=32, required=False, label="Number the callee sees (customerSerNum)"
    )
    prompt_tone = forms.CharField(
        max_length=128, required=False, label="Prompt tone (promptTone, .wav)"
    )
    always_play = forms.NullBooleanField(required=False, label="Always play the prompt tone")
    terminal_dtmf = forms.CharField(max_length=1, required=False, label="Key ending the prompt")
    max_call_time = forms.IntegerField(
        min_value=1, max_value=999999, required=False, label="Max call time (s)"
    )
    count_down_time = forms.IntegerField(
        min_value=1, max_value=999999, required=False, label="Count-down from (s)"
    )
    count_down_prompt = forms.CharField(
        max_length=128, required=False, label="Count-down prompt (.wav)"
    )
    need_record = forms.NullBooleanField(required=False, label="Record the call")
    need_both_cdr = forms.NullBooleanField(required=False, label="CDR for both parties")
    user_data = forms.CharField(max_length=256, required=False, label="User data (userData)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = sending.accounts_offering(calls.TWO_WAY_CALL.capability)
        self.fields["vendor_account"].queryset = accounts
        self.fields["sub_account"].queryset = selectors.sub_accounts_for_calls(accounts=accounts)
        _one_account_initial(self, accounts)

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        options = {k: data.pop(k) for k in calls.TWO_WAY_OPTIONS if k in data}
        return {**data, "options": options}


class VoiceCodeForm(forms.Form):
    vendor_account = _AccountField(queryset=VendorAccount.objects.none())
    callee_number = forms.CharField(max_length=32, label="Number to call")
    # PasswordInput(render_value=False): a form shown again after an error never
    # puts the code back into the page.
    verify_code = forms.CharField(
        max_length=8,
        label="Verification code",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="2-8 digits. Never shown again after sending.",
    )
    display_number = forms.CharField(
        max_length=32,
        required=False,
        label="Display number (displayNbr)",
        help_text="Empty: the account's display_number setting.",
    )
    pre_tone = forms.CharField(max_length=128, label="Tone before the code (preTone)")
    pos_tone = forms.CharField(max_length=128, required=False, label="Tone after (posTone)")
    times = forms.IntegerField(
        min_value=0, max_value=9, required=False, help_text="0-9 (0: loop); default 3."
    )
    user_data = forms.CharField(max_length=256, required=False, help_text="No braces.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = sending.accounts_offering(calls.VOICE_CODE.capability)
        self.fields["vendor_account"].queryset = accounts
        _one_account_initial(self, accounts)

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)
