"""Reads for bindings and the number pool: filtered lists, one binding, pool utilisation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import PrivacyNumber, VendorAccount
from core.phones import normalize_number
from privacy import rules
from privacy.models import Binding


def _number(value: str, field: str, errors: dict[str, list[str]]) -> str:
    try:
        return normalize_number(value)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return ""


def _int(value: str, field: str, errors: dict[str, list[str]]) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.setdefault(field, []).append("Enter a whole number.")
        return None


def binding_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[Binding]:
    """Bindings matching `filters`; raises ValidationError naming any unusable filter.

    Filters: state, kind, vendor_account (id), x / a / b (a phone number in any
    accepted form, matched exactly), q (digits found in A or B), expiring_within
    (minutes from now), expiring_before (ISO 8601 datetime).
    """
    filters = filters or {}
    errors: dict[str, list[str]] = {}
    qs = Binding.objects.select_related("vendor_account", "x_number")

    state = filters.get("state") or ""
    if state == "live":
        qs = qs.filter(state__in=Binding.LIVE_STATES)
    elif state:
        if state not in Binding.State.values:
            errors["state"] = [f"One of live, {', '.join(Binding.State.values)}."]
        qs = qs.filter(state=state)
    kind = filters.get("kind") or ""
    if kind:
        if kind not in Binding.Kind.values:
            errors["kind"] = [f"One of {', '.join(Binding.Kind.values)}."]
        qs = qs.filter(kind=kind)
    if filters.get("vendor_account"):
        account_id = _int(filters["vendor_account"], "vendor_account", errors)
        qs = qs.filter(vendor_account_id=account_id)
    if filters.get("x_id"):
        qs = qs.filter(x_number_id=_int(filters["x_id"], "x_id", errors))
    if filters.get("x"):
        qs = qs.filter(x_number__number=_number(filters["x"], "x", errors))
    if filters.get("a"):
        qs = qs.filter(a_number=_number(filters["a"], "a", errors))
    if filters.get("b"):
        qs = qs.filter(b_number=_number(filters["b"], "b", errors))
    if filters.get("q"):
        digits = "".join(ch for ch in filters["q"] if ch.isdigit())
        # Stored numbers are E.164: drop a leading 0 of a national fixed line.
        digits = digits.lstrip("0") or digits
        if digits:
            qs = qs.filter(Q(a_number__contains=digits) | Q(b_number__contains=digits))
        else:
            qs = qs.none()
    if filters.get("expiring_within"):
        minutes = _int(filters["expiring_within"], "expiring_within", errors)
        if minutes is not None:
            qs = qs.filter(
                state__in=Binding.LIVE_STATES,
                expires_at__lte=timezone.now() + timedelta(minutes=minutes),
            )
    if filters.get("expiring_before"):
        moment = _datetime(filters["expiring_before"])
        if moment is None:
            errors["expiring_before"] = ["An ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z."]
        else:
            qs = qs.filter(state__in=Binding.LIVE_STATES, expires_at__lte=moment)
    if errors:
        raise ValidationError(errors)
    return qs


def _datetime(value: str) -> datetime | None:
    try:
        moment = parse_datetime(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def binding_get(*, pk: int) -> Binding:
    return Binding.objects.select_related("vendor_account", "x_number", "created_by").get(pk=pk)


def binding_transitions(*, binding: Binding):
    return binding.transitions.select_related("actor").order_by("at", "id")


def binding_calls(*, binding: Binding) -> list:
    """Calls made through the binding; empty until the callbacks app records them."""
    manager = getattr(binding, "call_records", None)
    if manager is None:
        return []
    return list(manager.order_by("-pk")[:200])


@dataclass(frozen=True)
class PoolRow:
    number: PrivacyNumber
    live: int
    cap: int

    @property
    def percent(self) -> int:
        return round(100 * self.live / self.cap) if self.cap else 0


def pool_utilisation(
    *, vendor_account: VendorAccount | None = None, area_code: str = ""
) -> QuerySet[PrivacyNumber]:
    """Pool numbers annotated with `live` (live bindings on them), busiest first."""
    qs = PrivacyNumber.objects.select_related("vendor_account").filter(
        vendor_account__vendor__in=list(rules.KINDS_BY_VENDOR)
    )
    if vendor_account is not None:
        qs = qs.filter(vendor_account=vendor_account)
    if area_code:
        qs = qs.filter(area_code=area_code)
    live = Count("bindings", filter=Q(bindings__state__in=Binding.LIVE_STATES))
    return qs.annotate(live=live).order_by("-live", "number")


def pool_rows(numbers) -> list[PoolRow]:
    """Wrap a page of pool_utilisation() with each account's cap."""
    return [
        PoolRow(number=n, live=n.live, cap=rules.max_bindings_per_x(n.vendor_account))
        for n in numbers
    ]


def pool_totals(*, vendor_account: VendorAccount | None = None) -> dict[str, int]:
    numbers = PrivacyNumber.objects.filter(vendor_account__vendor__in=list(rules.KINDS_BY_VENDOR))
    live = Binding.objects.filter(state__in=Binding.LIVE_STATES, x_number__isnull=False)
    if vendor_account is not None:
        numbers = numbers.filter(vendor_account=vendor_account)
        live = live.filter(vendor_account=vendor_account)
    return {
        "numbers": numbers.count(),
        "available": numbers.filter(status=PrivacyNumber.Status.AVAILABLE).count(),
        "live": live.count(),
    }
