"""Reads of the callbacks app: call records, deliveries, and the gaps to chase.

List filters are callbacks.filters' filter sets: an unusable value raises
ValidationError naming it (a 400 in the API, a form error on a page).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

import vendors
from callbacks import conf
from callbacks.filters import CallRecordFilter, DeliveryFilter
from callbacks.models import CallEvent, CallRecord, CallRecordExport, Delivery
from core import filters as core_filters

# Events that prove a call happened, so its missing CDR is worth chasing.
GAP_EVENT_KINDS = ("call_start", "answer")


def call_record_list(
    *, filters: Mapping[str, Any] | None = None, user=None
) -> QuerySet[CallRecord]:
    """Call records matching `filters` (callbacks.filters.CallRecordFilter) as `user`
    may search them; raises ValidationError naming any unusable filter."""
    return core_filters.apply(
        CallRecordFilter,
        filters=filters,
        queryset=CallRecord.objects.select_related("vendor_account"),
        user=user,
    )


def call_record_get(*, pk: int) -> CallRecord:
    return CallRecord.objects.select_related("vendor_account", "binding").get(pk=pk)


def call_event_list(*, record: CallRecord) -> QuerySet[CallEvent]:
    return record.events.all()


def delivery_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[Delivery]:
    """Deliveries matching `filters` (callbacks.filters.DeliveryFilter); raises
    ValidationError naming any unusable filter."""
    return core_filters.apply(
        DeliveryFilter,
        filters=filters,
        queryset=Delivery.objects.select_related("vendor_account").defer("body", "traceback"),
        user=user,
    )


def delivery_for_replay(
    *,
    ids: list[int] | None = None,
    outcomes: list[str] | None = None,
    account_id: int | None = None,
    since: datetime | None = None,
) -> QuerySet[Delivery]:
    """Deliveries a replay may touch: replayable ones only, oldest first."""
    qs = Delivery.objects.filter(outcome__in=Delivery.REPLAYABLE).order_by("received_at", "id")
    if ids:
        qs = qs.filter(pk__in=ids)
    if outcomes:
        qs = qs.filter(outcome__in=outcomes)
    if account_id:
        qs = qs.filter(vendor_account_id=account_id)
    if since:
        qs = qs.filter(received_at__gte=since)
    return qs


def gap_records(*, now: datetime | None = None) -> QuerySet[CallRecord]:
    """Calls proven by a call_start/answer event whose CDR is overdue."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=conf.cdr_gap_minutes())
    proven = CallEvent.objects.filter(call_record=OuterRef("pk"), kind__in=GAP_EVENT_KINDS)
    return (
        CallRecord.objects.filter(has_cdr=False, first_seen_at__lte=cutoff)
        .filter(Exists(proven))
        .select_related("vendor_account", "binding")
        .order_by("first_seen_at", "id")
    )


def gap_bindings(*, now: datetime | None = None) -> QuerySet:
    """Active or released bindings with call events whose CDRs never came."""
    from privacy.models import Binding

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=conf.cdr_gap_minutes())
    missing = Q(
        call_records__has_cdr=False,
        call_records__first_seen_at__lte=cutoff,
        call_records__events__isnull=False,
    )
    return (
        Binding.objects.filter(state__in=[Binding.State.ACTIVE, Binding.State.RELEASED])
        .filter(missing)
        .annotate(
            missing_cdrs=Count("call_records", filter=missing, distinct=True),
            last_event_at=Max("call_records__events__occurred_at", filter=missing),
        )
        .select_related("vendor_account")
        .order_by("-last_event_at")
    )


# --------------------------------------------------------------------- delivery display


def _vendor_class(delivery: Delivery) -> type[vendors.VendorClient]:
    return vendors.REGISTRY.get(delivery.vendor, vendors.VendorClient)


def delivery_shown_headers(delivery: Delivery) -> list[tuple[str, str]]:
    """The stored headers as pages show them: authenticating ones (Authorization,
    huawei's X-AKSK) are replaced by their length.  The row keeps them whole so
    a replay can re-check the signature."""
    hidden = {name.lower() for name in _vendor_class(delivery).hidden_callback_headers}
    shown = []
    for name, value in (delivery.headers or {}).items():
        text = str(value)
        if name.lower() in hidden:
            text = f"[hidden: {len(text)} characters]"
        shown.append((name, text))
    return shown


def delivery_shown_auth(delivery: Delivery) -> tuple[str, str]:
    """(expected, received) authentication notes as pages show them."""
    cls = _vendor_class(delivery)
    return cls.shown_callback_text(delivery.auth_expected), cls.shown_callback_text(
        delivery.auth_received
    )


def call_record_export_list(*, user) -> QuerySet[CallRecordExport]:
    """The export audit: every export for holders of callbacks.view_callrecordexport,
    the user's own otherwise."""
    exports = CallRecordExport.objects.defer("error")
    if user.has_perm("callbacks.view_callrecordexport"):
        return exports
    return exports.filter(user=user)
