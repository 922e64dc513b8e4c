"""Forms of the /sandbox/ page: place a call, and set an account's chaos."""

from __future__ import annotations

from django import forms

from sandbox import selectors
from sandbox.models import SandboxAccount
from vendors.types import CallOutcome

OUTCOME_CHOICES = [
    (str(o), o.value.replace("_", " ")) for o in CallOutcome if o is not CallOutcome.OTHER
]
RECORD_CHOICES = [("", "vendor default"), ("yes", "record"), ("no", "do not record")]


def target_choices() -> list[tuple[str, str]]:
    """Active bindings ("binding:<pk>") and requested API calls ("call:<pk>")."""
    choices = [
        (
            f"binding:{b.pk}",
            # The kind's label names its vendor already ("igw AXB").
            f"{b.get_kind_display()} X {b.x_number}: {b.a_number} / {b.b_number or 'anyone'}",
        )
        for b in selectors.active_bindings().select_related("account")[:200]
    ]
    choices += [
        (f"call:{c.pk}", f"{c.account.vendor} {c.get_kind_display()} {c.caller} → {c.callee}")
        for c in selectors.playable_calls()[:200]
    ]
    return choices


class PlaceCallForm(forms.Form):
    target = forms.ChoiceField(choices=())
    outcome = forms.ChoiceField(choices=OUTCOME_CHOICES, initial="answered")
    duration = forms.IntegerField(
        min_value=0, max_value=7200, initial=30, help_text="Seconds talked."
    )
    direction = forms.ChoiceField(choices=[("a_to_b", "A calls B"), ("b_to_a", "B calls A")])
    caller = forms.CharField(required=False, help_text="XA only: who dials X.")
    record = forms.ChoiceField(choices=RECORD_CHOICES, required=False)
    delay_ms = forms.IntegerField(min_value=0, max_value=60000, required=False, label="Delay (ms)")
    duplicate = forms.BooleanField(required=False, label="Deliver every callback twice")
    out_of_order = forms.BooleanField(required=False, label="Deliver in reverse order")
    recording_late_seconds = forms.IntegerField(
        min_value=0, max_value=3600, required=False, label="Recording 404s for (s)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = target_choices()

    def chaos(self) -> dict:
        data = self.cleaned_data
        return {
            "delay_ms": data.get("delay_ms"),
            "duplicate": data.get("duplicate") or None,
            "out_of_order": data.get("out_of_order") or None,
            "recording_late_seconds": data.get("recording_late_seconds"),
        }

    def record_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("record") or "")


class ChaosForm(forms.ModelForm):
    class Meta:
        model = SandboxAccount
        fields = SandboxAccount.SETTABLE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, vendor in SandboxAccount.VENDOR_FIELDS.items():
            if self.instance.pk and self.instance.vendor != vendor:
                del self.fields[name]
