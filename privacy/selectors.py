"""Reads for bindings and the number pool: filtered lists, one binding, pool utilisation,
active and soon-expiring bindings (the dashboard), the binding an idempotency key
made, the binding a call belongs to, and labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import PrivacyNumber, VendorAccount
from core import filters as core_filters
from core.phones import display_number
from privacy import kinds, rules
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


def binding_for_idempotency_key(*, user, key: str) -> Binding | None:
    """The binding `user` made with this Idempotency-Key, if any."""
    if not key or user is None:
        return None
    return Binding.objects.filter(created_by=user, client_idempotency_key=key).first()


def describe_for(binding: Binding, user) -> str:
    """A one-line label for messages: kind, masked numbers."""
    parts = [display_number(binding.a_number, user)]
    if binding.b_number:
        parts.append(display_number(binding.b_number, user))
    x = display_number(binding.x_number.number, user) if binding.x_number else "?"
    return f"{binding.get_kind_display()} #{binding.pk} X {x}: {' / '.join(parts)}"


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
        vendor_account__vendor__in=kinds.vendors()
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
    numbers = PrivacyNumber.objects.filter(vendor_account__vendor__in=kinds.vendors())
    live = Binding.objects.filter(state__in=Binding.LIVE_STATES, x_number__isnull=False)
    if vendor_account is not None:
        numbers = numbers.filter(vendor_account=vendor_account)
        live = live.filter(vendor_account=vendor_account)
    return {
        "numbers": numbers.count(),
        "available": numbers.filter(status=PrivacyNumber.Status.AVAILABLE).count(),
        "live": live.count(),
    }


@dataclass(frozen=True)
class BindingActivity:
    active: int
    expiring_soon: int
    # The first of those to expire, soonest first (the dashboard lists them).
    expiring: list[Binding]


def binding_activity(
    *,
    vendor_account_id: int | None = None,
    within: timedelta = timedelta(hours=1),
    limit: int = 10,
    now: datetime | None = None,
) -> BindingActivity:
    """Active bindings, and those of them that expire within `within` (the
    (state, expires_at) index)."""
    now = now or timezone.now()
    active = Binding.objects.filter(state=Binding.State.ACTIVE)
    if vendor_account_id is not None:
        active = active.filter(vendor_account_id=vendor_account_id)
    soon = active.filter(expires_at__gte=now, expires_at__lt=now + within)
    counts = active.aggregate(
        active=Count("pk"),
        soon=Count("pk", filter=Q(expires_at__gte=now, expires_at__lt=now + within)),
    )
    expiring = list(soon.select_related("x_number").order_by("expires_at", "pk")[:limit])
    return BindingActivity(active=counts["active"], expiring_soon=counts["soon"], expiring=expiring)


# --------------------------------------------------------------------------- calls

# The binding a call belongs to. Callbacks resolve it on every CDR, inside the
# INSERT of the call's record (callbacks.hotsql), so the rule is one SQL
# expression that privacy owns:
# - by the vendor's id for it (igw subid, cyj virtual number); cyj reuses virtual
#   numbers across bindings, so the newest binding created at or before the call,
#   else the newest one;
# - else, for kinds whose calls carry no vendor id (igw XA, opened without a
#   subid), the newest such binding on the call's X number created at or before
#   the call.
# Parameters: call_binding_params(...) order. Uses the index privacy_bind_vendor_id.
# Kind codes come from privacy.kinds and table names from model metadata; every
# value is a parameter.
_BY_X = ", ".join(f"'{code}'" for code in kinds.where("calls_linked_by_x"))
_BINDINGS, _NUMBERS = Binding._meta.db_table, PrivacyNumber._meta.db_table


def call_binding_sql(account: str, vendor_binding_id: str, x_number: str, at: str) -> str:
    """The rule over four SQL expressions: placeholders (CALL_BINDING_SQL) or the
    columns of a set of calls (callbacks.hotsql.bindings_for_calls)."""
    return (
        "COALESCE("  # noqa: S608
        f"(SELECT b.id FROM {_BINDINGS} b"
        f" WHERE b.vendor_account_id = {account} AND b.vendor_binding_id = {vendor_binding_id}"
        f" AND {vendor_binding_id} <> ''"
        f" ORDER BY (b.created_at <= {at}) DESC, b.created_at DESC, b.id DESC LIMIT 1),"
        f"(SELECT b.id FROM {_BINDINGS} b JOIN {_NUMBERS} n ON n.id = b.x_number_id"
        f" WHERE b.vendor_account_id = {account} AND b.kind IN ({_BY_X}) AND n.number = {x_number}"
        f" AND b.created_at <= {at} ORDER BY b.created_at DESC, b.id DESC LIMIT 1))"
    )


CALL_BINDING_SQL = call_binding_sql("%s", "%s", "%s", "%s")


def call_binding_params(
    account_id: int, vendor_binding_id: str, x_number: str, at: datetime
) -> tuple:
    """The parameters of CALL_BINDING_SQL for a call of `account_id` at `at`."""
    return (account_id, vendor_binding_id, vendor_binding_id, at, account_id, x_number, at)


def binding_for_call(
    *, account_id: int, vendor_binding_id: str, x_number: str, at: datetime
) -> int | None:
    """The id of the binding a call belongs to (the rule above), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {CALL_BINDING_SQL}",
            call_binding_params(account_id, vendor_binding_id, x_number, at),
        )
        return cursor.fetchone()[0]
