"""Reads for bindings and the number pool: filtered lists, one binding, pool utilisation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.models import PrivacyNumber, VendorAccount
from core import filters as core_filters
from privacy import rules
from privacy.filters import BindingFilter
from privacy.models import Binding


def binding_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[Binding]:
    """Bindings matching `filters` (see privacy.filters.BindingFilter) as `user` may
    search them; raises ValidationError naming any unusable filter."""
    return core_filters.apply(
        BindingFilter,
        filters=filters,
        queryset=Binding.objects.select_related("vendor_account", "x_number"),
        user=user,
    )


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
