"""The bindings list's one filter set: the page, the API and the selectors use it."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.utils import timezone

from core import filters
from privacy import kinds
from privacy.models import Binding

# Ten years of minutes: far beyond any binding's ttl, well inside timedelta's range.
MAX_EXPIRING_WITHIN = 10 * 366 * 24 * 60


class BindingFilter(filters.ConsoleFilterSet):
    state = django_filters.ChoiceFilter(
        choices=[("live", "live"), *Binding.State.choices],
        method="filter_state",
        help_text="A state, or live (pending, active or releasing).",
    )
    kind = django_filters.ChoiceFilter(choices=kinds.choices)  # read per request
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    x_id = filters.IdFilter(field_name="x_number_id", help_text="Pool number id of X.")
    x = filters.PhoneNumberFilter(
        field_name="x_number__number", help_text="X number, any accepted form; exact match."
    )
    a = filters.PhoneNumberFilter(
        field_name="a_number", help_text="A number, any accepted form; exact."
    )
    b = filters.PhoneNumberFilter(
        field_name="b_number", help_text="B number, any accepted form; exact."
    )
    q = filters.NumberSearchFilter(
        number_fields=("a_number", "b_number"),
        help_text="A or B: digits of a number with accounts.view_full_numbers, "
        "otherwise a complete number (exact match).",
    )
    expiring_within = filters.BoundedIntegerFilter(
        min_value=0,
        max_value=MAX_EXPIRING_WITHIN,
        method="filter_expiring_within",
        help_text="Live bindings expiring within this many minutes.",
    )
    expiring_before = filters.MomentFilter(
        method="filter_expiring_before",
        help_text="Live bindings expiring by then (ISO 8601 date or datetime).",
    )

    class Meta:
        model = Binding
        fields: list[str] = []

    def filter_state(self, qs, name, value):
        if value == "live":
            return qs.filter(state__in=Binding.LIVE_STATES)
        return qs.filter(state=value)

    def filter_expiring_within(self, qs, name, value):
        deadline = timezone.now() + timedelta(minutes=value)
        return qs.filter(state__in=Binding.LIVE_STATES, expires_at__lte=deadline)

    def filter_expiring_before(self, qs, name, value):
        moment = filters.parse_moment(value, end=False)
        return qs.filter(state__in=Binding.LIVE_STATES, expires_at__lte=moment)
