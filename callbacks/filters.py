"""Filter sets of the callbacks lists: call records (page, CSV export and API share
one) and deliveries."""

import django_filters
from django.db.models import Q

from accounts.models import vendor_choices
from callbacks.models import OUTCOME_CHOICES, CallRecord, Delivery
from core import filters


class CallSearchFilter(filters.NumberSearchFilter):
    """`q`: a number (see NumberSearchFilter) or, failing that, an exact call id."""

    def fallback(self, qs, value: str):
        return qs.filter(call_id=value)


# The list's sort orders: each ends with the id, so a keyset (core.pagination) can seek.
SORTS = {
    "-call_at": ("-call_at", "-id"),
    "call_at": ("call_at", "id"),
    "-duration": ("-duration", "-id"),
    "duration": ("duration", "id"),
}
SORT_CHOICES = [
    ("-call_at", "newest first"),
    ("call_at", "oldest first"),
    ("-duration", "longest first"),
    ("duration", "shortest first"),
]
NUMBER_FIELDS = ("caller", "callee", "x_number")
# A shorter fragment matches a large share of ten million calls and no trigram
# index can serve it (pg_trgm needs three characters).
MIN_FRAGMENT_DIGITS = 3
MAX_DURATION = 10**7  # seconds; a bound so no value overflows the column


class CallRecordFilter(filters.ConsoleFilterSet):
    """The call-record filters of the list page, the CSV export and the API."""

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
    number = filters.PhoneNumberFilter(
        method="filter_number",
        help_text="A complete number (any accepted form, e.g. 13812345678 or +86 138 1234 "
        "5678): calls where it is the caller, the callee or the X number.",
    )
    q = CallSearchFilter(
        number_fields=NUMBER_FIELDS,
        max_length=256,
        help_text="A number (digits of it, at least 3, with accounts.view_full_numbers; "
        "otherwise the complete number) or a call id.",
    )
    duration_min = filters.BoundedIntegerFilter(
        field_name="duration",
        lookup_expr="gte",
        min_value=0,
        max_value=MAX_DURATION,
        help_text="Talk time at least this many seconds.",
    )
    duration_max = filters.BoundedIntegerFilter(
        field_name="duration",
        lookup_expr="lte",
        min_value=0,
        max_value=MAX_DURATION,
        help_text="Talk time at most this many seconds.",
    )
    release_side = django_filters.ChoiceFilter(
        choices=[*[c for c in CallRecord.ReleaseSide.choices if c[0]], ("unknown", "Unknown")],
        method="filter_release_side",
        help_text="Who hung up.",
    )
    has_recording = django_filters.BooleanFilter(method="filter_has_recording")
    binding = filters.IdFilter(help_text="Binding id.")
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES,
        method="filter_sort",
        help_text="Order of the list (default -call_at, newest first).",
    )

    class Meta:
        model = CallRecord
        fields: list[str] = []

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid and self.may_see_full_numbers:
            q = self.form.cleaned_data.get("q") or ""
            digits = sum(ch.isascii() and ch.isdigit() for ch in q)
            if 0 < digits < MIN_FRAGMENT_DIGITS:
                self.form.add_error(
                    "q", f"Give at least {MIN_FRAGMENT_DIGITS} digits of a number to search for."
                )
                return False
        return valid

    def filter_outcome(self, qs, name, value):
        return qs.filter(outcome="" if value == "pending" else value)

    def filter_number(self, qs, name, value):
        match = Q()
        for field in NUMBER_FIELDS:
            match |= Q(**{field: value})
        return qs.filter(match)

    def filter_release_side(self, qs, name, value):
        return qs.filter(release_side="" if value == "unknown" else value)

    def filter_has_recording(self, qs, name, value):
        downloaded = CallRecord.RecordingStatus.DOWNLOADED
        if value:
            return qs.filter(recording_status=downloaded)
        return qs.exclude(recording_status=downloaded)

    def filter_sort(self, qs, name, value):
        return qs.order_by(*SORTS[value])


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
