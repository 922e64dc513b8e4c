"""The one mechanism every list's query parameters pass through: django-filter filter sets.

Each list has one FilterSet (in `<app>/filters.py`) shared by its page, its CSV
export and its API, so a parameter means the same everywhere and is validated once:
an unusable value is a field error (400 in the API, a form error on the page),
never a 500 and never silently ignored.

Number search follows one rule (`NumberSearchFilter`): users with
accounts.view_full_numbers may search by fragments; everyone else by a complete
number only, normalized and matched exactly, so searching `8021` or `138` cannot
recover the digits a mask hides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.phones import normalize_number

FULL_NUMBERS_PERM = "accounts.view_full_numbers"
# PostgreSQL integer columns are 64-bit at most; anything larger is a typo or an attack.
MAX_ID = 2**63 - 1


class ConsoleFilterSet(django_filters.FilterSet):
    """Base of every list's filter set.

    Pass `user` (pages, exports, selectors) or `request` (DRF's DjangoFilterBackend);
    filters that depend on what the user may see read `self.user`.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, user=None):
        super().__init__(data=data, queryset=queryset, request=request, prefix=prefix)
        self.user = user if user is not None else getattr(request, "user", None)

    @property
    def may_see_full_numbers(self) -> bool:
        return bool(self.user is not None and self.user.has_perm(FULL_NUMBERS_PERM))


def apply(
    filterset_class: type[ConsoleFilterSet],
    *,
    filters: Mapping[str, Any] | None,
    queryset: QuerySet | None = None,
    user=None,
) -> QuerySet:
    """The filtered queryset, or ValidationError with the filter set's field errors."""
    filterset = filterset_class(data=_as_querydict(filters), queryset=queryset, user=user)
    if not filterset.is_valid():
        raise ValidationError({field: list(errors) for field, errors in filterset.errors.items()})
    return filterset.qs


def _as_querydict(filters: Mapping[str, Any] | None):
    """A QueryDict stays as it is (repeated keys); a plain dict becomes string values."""
    if filters is None:
        return {}
    if hasattr(filters, "getlist"):
        return filters
    return {key: "" if value is None else str(value) for key, value in filters.items()}


def page_errors(exc: ValidationError) -> list[str]:
    """A filter set's ValidationError as lines a list page shows above its table."""
    if hasattr(exc, "error_dict"):
        return [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
    return list(exc.messages)


def list_or_errors(select: Callable[..., QuerySet], model, **kwargs) -> tuple[QuerySet, list[str]]:
    """A list page's rows from `select(**kwargs)` and the lines to show above its table.

    Unusable filters show as errors over an empty table rather than a 500 or a
    silently unfiltered list.
    """
    try:
        return select(**kwargs), []
    except ValidationError as exc:
        return model.objects.none(), page_errors(exc)


# --------------------------------------------------------------------- filters


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row id: a positive whole number in the database's range (not a Decimal)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class BoundedIntegerFilter(django_filters.NumberFilter):
    """A whole number within [min_value, max_value]; set both, so no value can overflow."""

    field_class = forms.IntegerField


class PhoneNumberField(forms.CharField):
    """A phone number in any accepted form; cleans to E.164."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return normalize_number(value)
        except ValidationError as exc:
            # The reason quotes the input, which may hold "%": django-filter's API errors
            # apply `message % params`, so the text travels as a parameter.
            raise ValidationError(
                "%(reason)s", code="invalid", params={"reason": " ".join(exc.messages)}
            ) from exc


class PhoneNumberFilter(django_filters.CharFilter):
    """An exact match on a stored number, given in any accepted form."""

    field_class = PhoneNumberField


class MomentField(forms.CharField):
    """A date (a whole day) or an ISO 8601 datetime; cleans to the raw text, checked."""

    def clean(self, value):
        value = super().clean(value)
        if value and parse_moment(value, end=False) is None:
            raise ValidationError(
                "Enter a date (2026-01-31) or a date and time (2026-01-31T12:00:00Z).",
                code="invalid",
            )
        return value


def parse_moment(value: str, *, end: bool):
    """A date (start or end of that whole day) or a datetime, made aware; None if neither."""
    from datetime import UTC, datetime, time

    from django.utils import timezone

    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    try:
        # A bare date first: parse_datetime would read "2024-03-01" as its midnight,
        # and an inclusive "to" date must reach the end of that day.
        day = parse_date(text) if len(text) == 10 else None
        if day is not None:
            moment = datetime.combine(day, time.max if end else time.min)
        else:
            moment = parse_datetime(text)
    except (ValueError, OverflowError):
        return None
    if moment is None:
        return None
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        # Year 1 or 9999 with an offset leaves Python's range once converted to UTC.
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment


@extend_schema_field(OpenApiTypes.STR)  # a date or a datetime: no single format
class MomentFilter(django_filters.Filter):
    """Compare a datetime column with a date or datetime; `end=True` makes a date inclusive."""

    field_class = MomentField

    def __init__(self, *args, end: bool = False, **kwargs):
        self.end = end
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return super().filter(qs, parse_moment(value, end=self.end))


def number_search(
    qs: QuerySet, value: str, *, fields: Sequence[str], full_numbers: bool
) -> QuerySet | None:
    """Rows whose number `fields` match the search `value`, or None if `value` names no number.

    With full_numbers, any run of digits matches as a fragment; otherwise only a
    complete number matches, exactly as stored (E.164).
    """
    if full_numbers:
        digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
        if not digits:
            return None
        # Stored numbers are E.164: a national fixed line's leading 0 is not stored.
        digits = digits.lstrip("0") or digits
        match = Q()
        for field in fields:
            match |= Q(**{f"{field}__contains": digits})
        return qs.filter(match)
    try:
        number = normalize_number(value)
    except ValidationError:
        return None
    match = Q()
    for field in fields:
        match |= Q(**{field: number})
    return qs.filter(match)


class NumberSearchFilter(django_filters.CharFilter):
    """`q`: search phone numbers, by fragment only for users who may see whole numbers.

    Text that names no number matches nothing (subclasses may match something else,
    e.g. a call id, by overriding `fallback`).
    """

    def __init__(self, *args, number_fields: Sequence[str], **kwargs):
        self.number_fields = tuple(number_fields)
        kwargs.setdefault("max_length", 64)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        found = number_search(
            qs,
            value,
            fields=self.number_fields,
            full_numbers=self.parent.may_see_full_numbers,
        )
        return found if found is not None else self.fallback(qs, value.strip())

    def fallback(self, qs, value: str):
        return qs.none()
