"""Filter sets of the callbacks lists: call records (page, CSV export and API share
one) and deliveries."""

import django_filters
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Q, Sum
from django.db.models.expressions import RawSQL

from accounts.models import vendor_choices
from callbacks.models import OUTCOME_CHOICES, CallHourX, CallRecord, Delivery
from core import filters
from core.pagination import PAGE_SIZE, estimated_count
from core.phones import normalize_number


def matching_ids_first(qs, match: Q):
    """`qs` narrowed to the calls `match` selects, planned as "find those few first".

    A number's calls are few, but the planner cannot know it for the X-number column
    (a few hundred distinct values, so any one looks like 40,000 rows of ten million):
    it would walk the call-time index backwards, filtering, through millions of rows
    for one page.  On PostgreSQL the ids are collected first (ARRAY(subquery) is run
    once, through the number indexes), and the page is taken among them.
    """
    if connection.vendor != "postgresql":
        return qs.filter(match)
    inner = CallRecord.objects.filter(match).values("pk").order_by()
    sql, params = inner.query.sql_with_params()
    table = connection.ops.quote_name(CallRecord._meta.db_table)
    return qs.filter(
        RawSQL(f'{table}."id" = ANY(ARRAY({sql}))', params, output_field=BooleanField())  # noqa: S611 (Django-compiled SQL, parameters bound)
    )


class CallSearchFilter(filters.NumberSearchFilter):
    """`q`: a number (see NumberSearchFilter) or, failing that, an exact call id."""

    def filter(self, qs, value):
        if value and not self.parent.may_see_full_numbers:
            try:
                number = normalize_number(value)
            except ValidationError:
                return self.fallback(qs, value.strip())
            return calls_of_number(qs, number)
        digits = "".join(ch for ch in value or "" if ch.isascii() and ch.isdigit()).lstrip("0")
        if len(digits) >= RARE_FRAGMENT_DIGITS:
            # Few calls share six digits: find them first through the trigram index.
            # Shorter fragments match many calls, met soon walking back in time.
            match = Q()
            for field in NUMBER_FIELDS:
                match |= Q(**{f"{field}__contains": digits})
            return matching_ids_first(qs, match)
        return super().filter(qs, value)

    def fallback(self, qs, value: str):
        return qs.filter(call_id=value)


def calls_of_number(qs, number: str):
    """`qs` narrowed to the calls of a complete number, in whichever of two plans reads
    fewer rows for one page.

    A customer's number has a few calls: find them first (`matching_ids_first`).  A
    busy X number has tens of thousands: collecting them all would read every one
    (~0.7 s for 40,000 of ten million), while walking the list's order meets a page
    of them soon (total / its calls x a page: ~12,000 rows, ~40 ms).  The walk wins
    once the number's calls as X exceed about sqrt(page x total) — read from the
    CallHourX rollup and the table's statistics, a millisecond.
    """
    if connection.vendor != "postgresql":
        return qs.filter(_any_party(number))
    as_x = CallHourX.objects.filter(x_number=number).aggregate(calls=Sum("calls"))["calls"]
    total = estimated_count(CallRecord.objects.all())
    if as_x and as_x * as_x >= (PAGE_SIZE + 1) * total:
        return qs.filter(_any_party(number))
    return matching_ids_first(qs, _any_party(number))


def _any_party(number: str) -> Q:
    match = Q()
    for field in NUMBER_FIELDS:
        match |= Q(**{field: number})
    return match


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
RARE_FRAGMENT_DIGITS = 6
MAX_DURATION = 10**7  # seconds; a bound so no value overflows the column


STARTED_BY_CHOICES = [
    ("binding", "A privacy binding"),
    ("two_way_call", "A two-way call"),
    ("voice_code", "A voice code"),
]


def _started_by(kind: str, *, pk: int | None = None):
    # messaging builds on callbacks (its sends read call records): imported late.
    from messaging.selectors import call_records_started_by

    return call_records_started_by(kind, pk=pk)


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
    started_by = django_filters.ChoiceFilter(
        choices=STARTED_BY_CHOICES,
        method="filter_started_by",
        help_text="What started the call: a privacy binding, a two-way call or a voice code.",
    )
    two_way_call = filters.IdFilter(method="filter_send", help_text="Two-way call id.")
    voice_code = filters.IdFilter(method="filter_send", help_text="Voice code id.")
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
        return calls_of_number(qs, value)

    def filter_release_side(self, qs, name, value):
        return qs.filter(release_side="" if value == "unknown" else value)

    def filter_started_by(self, qs, name, value):
        if value == "binding":
            return qs.filter(binding__isnull=False)
        return qs.filter(_started_by(value))

    def filter_send(self, qs, name, value):
        return qs.filter(_started_by(name, pk=value))

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
