"""Filter sets of the callbacks lists: call records (page, CSV export and API share
one) and deliveries."""

import django_filters

from accounts.models import vendor_choices
from callbacks.models import OUTCOME_CHOICES, CallRecord, Delivery
from core import filters


class CallSearchFilter(filters.NumberSearchFilter):
    """`q`: a number (see NumberSearchFilter) or, failing that, an exact call id."""

    def fallback(self, qs, value: str):
        return qs.filter(call_id=value)


class CallRecordFilter(filters.ConsoleFilterSet):
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    vendor = django_filters.ChoiceFilter(choices=vendor_choices)  # read per request
    outcome = django_filters.ChoiceFilter(
        choices=[("pending", "awaiting CDR"), *OUTCOME_CHOICES],
        method="filter_outcome",
        help_text="A call outcome, or pending (no CDR yet).",
    )
    date_from = filters.MomentFilter(
        field_name="call_at", lookup_expr="gte", help_text="Date or ISO 8601 datetime."
    )
    date_to = filters.MomentFilter(
        field_name="call_at",
        lookup_expr="lte",
        end=True,
        help_text="Date (inclusive) or ISO 8601 datetime.",
    )
    q = CallSearchFilter(
        number_fields=("caller", "callee", "x_number"),
        max_length=256,
        help_text="A number (digits of it with accounts.view_full_numbers, otherwise the "
        "complete number) or a call id.",
    )
    has_recording = django_filters.BooleanFilter(method="filter_has_recording")
    binding = filters.IdFilter(help_text="Binding id.")

    class Meta:
        model = CallRecord
        fields: list[str] = []

    def filter_outcome(self, qs, name, value):
        return qs.filter(outcome="" if value == "pending" else value)

    def filter_has_recording(self, qs, name, value):
        downloaded = CallRecord.RecordingStatus.DOWNLOADED
        if value:
            return qs.filter(recording_status=downloaded)
        return qs.exclude(recording_status=downloaded)


class DeliveryFilter(filters.ConsoleFilterSet):
    outcome = django_filters.ChoiceFilter(
        choices=[("problems", "rejected or failed"), *Delivery.Outcome.choices],
        method="filter_outcome",
        help_text="An outcome, or problems (every replayable outcome).",
    )
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    kind = django_filters.CharFilter(max_length=32)

    class Meta:
        model = Delivery
        fields: list[str] = []

    def filter_outcome(self, qs, name, value):
        if value == "problems":
            return qs.filter(outcome__in=Delivery.REPLAYABLE)
        return qs.filter(outcome=value)
