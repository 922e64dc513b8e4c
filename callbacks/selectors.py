"""Reads of the callbacks app: call records, deliveries, and the gaps to chase.

List filters are callbacks.filters' filter sets: an unusable value raises
ValidationError naming it (a 400 in the API, a form error on a page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

import vendors
from callbacks import conf
from callbacks.filters import CallRecordFilter, DeliveryFilter
from callbacks.models import CallEvent, CallRecord, CallRecordExport, Delivery
from core import filters as core_filters
from core import pagination

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


def call_record_page(
    *, filters: Mapping[str, Any] | None = None, user=None, size: int | None = None
) -> tuple[pagination.KeysetPage, int]:
    """One keyset page of the call records matching `filters` (their `cursor` says
    where it starts) and about how many match; raises ValidationError naming any
    unusable filter or cursor."""
    records = call_record_list(filters=filters, user=user)
    cursor = (filters or {}).get(pagination.CURSOR_PARAM) or None
    page = pagination.keyset_page(records, cursor=cursor, size=size or pagination.PAGE_SIZE)
    return page, pagination.page_estimate(page, pagination.estimated_count(records))


def call_record_get(*, pk: int) -> CallRecord:
    return CallRecord.objects.select_related("vendor_account", "binding", "binding__x_number").get(
        pk=pk
    )


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


# --------------------------------------------------------------------- call detail


@dataclass(frozen=True)
class TimelineStep:
    """A moment of a call: what happened, when, and how long after the call began."""

    label: str
    at: datetime
    offset: float  # seconds since the first moment
    detail: str = ""


@dataclass(frozen=True)
class Timeline:
    steps: list[TimelineStep]
    # Seconds, None when the moments to measure them are unknown.
    post_dial_delay: float | None
    ring_time: float | None
    talk_time: float | None


_EVENT_LABELS = {
    CallEvent.Kind.CALL_START: "Call started",
    CallEvent.Kind.CALLOUT: "Called out",
    CallEvent.Kind.ALERTING: "Ringing",
    CallEvent.Kind.ANSWER: "Answered",
    CallEvent.Kind.DISCONNECT: "Released",
}


def call_timeline(*, record: CallRecord, events: list[CallEvent]) -> Timeline:
    """The call's moments with times relative to its start: its events when there are
    any, else the CDR's begin/ring/answer/release.  Post-dial delay is start to
    ringing, ring time ringing to answer, talk time answer to release."""
    if events:
        moments = [(_EVENT_LABELS.get(e.kind, e.kind), e.occurred_at, e.state_text) for e in events]
        first = {e.kind: e.occurred_at for e in reversed(events)}
        start = first.get(CallEvent.Kind.CALL_START) or first.get(CallEvent.Kind.CALLOUT)
        ring = first.get(CallEvent.Kind.ALERTING)
        answer = first.get(CallEvent.Kind.ANSWER)
        release = first.get(CallEvent.Kind.DISCONNECT)
    else:
        start, ring, answer, release = (
            record.begin_at,
            record.ring_at,
            record.answer_at,
            record.release_at,
        )
        labelled = [("Call started", start), ("Ringing", ring), ("Answered", answer)]
        labelled.append(("Released", release))
        moments = [(label, at, "") for label, at in labelled if at is not None]
    origin = min((at for _, at, _ in moments), default=None)
    steps = [
        TimelineStep(label=label, at=at, offset=(at - origin).total_seconds(), detail=detail)
        for label, at, detail in moments
    ]
    return Timeline(
        steps=steps,
        post_dial_delay=_between(start, ring),
        ring_time=_between(ring, answer),
        talk_time=_between(answer, release),
    )


def _between(earlier: datetime | None, later: datetime | None) -> float | None:
    if earlier is None or later is None or later < earlier:
        return None
    return (later - earlier).total_seconds()


def call_result_meaning(*, record: CallRecord) -> str:
    """What the vendor's result code means, from its client's `call_result_codes`."""
    cls = vendors.REGISTRY.get(record.vendor, vendors.VendorClient)
    row = cls.call_result_codes.get(record.raw_code)
    return row[1] if row else ""


# Deliveries that produced a call arrive after it began; a replayed one keeps its
# first arrival time, which may precede the record, but not by more than this.
DELIVERY_LEAD = timedelta(days=1)


def call_record_deliveries(*, record: CallRecord) -> list[Delivery]:
    """The deliveries whose processing named this call (its CDR and events), oldest first.

    Bounded by account and arrival time (an indexed range) before looking into the
    JSON list of call ids, so it stays cheap with millions of deliveries.
    """
    qs = (
        Delivery.objects.filter(
            vendor_account_id=record.vendor_account_id,
            received_at__gte=_shifted(record.call_at, -DELIVERY_LEAD),
            received_at__lte=_shifted(max(record.updated_at, record.call_at), timedelta(minutes=5)),
        )
        .defer("body", "traceback", "headers")
        .order_by("received_at", "id")
    )
    if connection.vendor == "postgresql":
        return list(qs.filter(call_ids__contains=[record.call_id])[:100])
    # SQLite has no JSON containment lookup: the window is small, filter here.
    return [d for d in qs[:1000] if record.call_id in (d.call_ids or [])][:100]


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, or `moment` itself at the ends of the calendar (a stored
    9999-12-31 cannot move later)."""
    try:
        return moment + delta
    except OverflowError:
        return moment
