"""Reads of the callbacks app: call records, deliveries, and the gaps to chase.

Filters come straight from request.GET / query_params; anything unparseable
is ignored rather than raising, as everywhere else in the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

import vendors
from callbacks import conf
from callbacks.models import CallEvent, CallRecord, Delivery

# Events that prove a call happened, so its missing CDR is worth chasing.
GAP_EVENT_KINDS = ("call_start", "answer")


def _moment(value: str, *, end: bool) -> datetime | None:
    """A date (whole day, inclusive) or a datetime from a filter box, made aware."""
    if not value:
        return None
    # A bare date first: parse_datetime would read "2024-03-01" as its midnight,
    # and an inclusive "to" date must reach the end of that day.
    day = parse_date(value) if len(value) == 10 else None
    if day is not None:
        parsed = datetime.combine(day, time.max if end else time.min)
    else:
        parsed = parse_datetime(value)
        if parsed is None:
            return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _safe(getter: Any, value: str) -> Any:
    try:
        return getter(value)
    except (ValueError, TypeError):
        return None


def call_record_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[CallRecord]:
    """Filters: vendor_account (id), vendor, outcome, date_from/date_to (call time),
    q (digits of any number), has_recording ("true"/"false"), binding (id)."""
    filters = filters or {}
    qs = CallRecord.objects.select_related("vendor_account")
    account = str(filters.get("vendor_account") or "")
    if account.isdigit():
        qs = qs.filter(vendor_account_id=int(account))
    if filters.get("vendor"):
        qs = qs.filter(vendor=filters["vendor"])
    outcome = filters.get("outcome")
    if outcome == "pending":
        qs = qs.filter(outcome="")
    elif outcome:
        qs = qs.filter(outcome=outcome)
    start = _safe(lambda v: _moment(v, end=False), str(filters.get("date_from") or ""))
    if start:
        qs = qs.filter(call_at__gte=start)
    stop = _safe(lambda v: _moment(v, end=True), str(filters.get("date_to") or ""))
    if stop:
        qs = qs.filter(call_at__lte=stop)
    query = str(filters.get("q") or "")
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        if digits:
            qs = qs.filter(
                Q(caller__contains=digits)
                | Q(callee__contains=digits)
                | Q(x_number__contains=digits)
            )
        else:
            qs = qs.filter(call_id=query.strip())
    has_recording = filters.get("has_recording")
    if has_recording == "true":
        qs = qs.filter(recording_status=CallRecord.RecordingStatus.DOWNLOADED)
    elif has_recording == "false":
        qs = qs.exclude(recording_status=CallRecord.RecordingStatus.DOWNLOADED)
    binding = str(filters.get("binding") or "")
    if binding.isdigit():
        qs = qs.filter(binding_id=int(binding))
    return qs


def call_record_get(*, pk: int) -> CallRecord:
    return CallRecord.objects.select_related("vendor_account", "binding").get(pk=pk)


def call_event_list(*, record: CallRecord) -> QuerySet[CallEvent]:
    return record.events.all()


def delivery_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Delivery]:
    """Filters: outcome ("problems" = every replayable outcome), vendor_account, kind."""
    filters = filters or {}
    qs = Delivery.objects.select_related("vendor_account").defer("body", "traceback")
    outcome = filters.get("outcome")
    if outcome == "problems":
        qs = qs.filter(outcome__in=Delivery.REPLAYABLE)
    elif outcome:
        qs = qs.filter(outcome=outcome)
    account = str(filters.get("vendor_account") or "")
    if account.isdigit():
        qs = qs.filter(vendor_account_id=int(account))
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    return qs


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
