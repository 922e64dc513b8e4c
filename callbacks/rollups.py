"""The call rollups (CallHourStat, CallHourTotal, CallHourX): recomputed exactly.

Dashboards and X-number health read these tables, never the raw call records.
A rollup is never incremented: a refresh recomputes whole UTC hours, in one
transaction, as DELETE of the hours' rows then INSERT ... SELECT ... GROUP BY from
CallRecord (CallHourStat) and from CallHourStat (CallHourTotal, CallHourX).  So a refresh can
run any number of times, a CDR delivered twice is counted once (the normalizer
stores it once), and a CDR arriving hours late is counted as soon as its hour is
recomputed.

Which hours the beat job (`rollup_refresh_recent`, every minute) recomputes:
- the last `recent_hours` hours (ROLLUP_RECENT_HOURS, default 1: the current hour);
- every hour holding a record changed since the previous run (CallRecord's
  updated_at, indexed: the normalizer sets it on every insert and merge), looked
  up from the stored watermark minus a margin
  (ROLLUP_WATERMARK_MARGIN_SECONDS: transactions that set updated_at before the
  previous run but committed after it).  A CDR or event only ever moves a record's
  call_at earlier, and only when a CDR merges into a record that events made, from
  an event time no later than when the record was first stored: for records with
  events the hours from call_at to first_seen_at cover the hour they left too.

`rollup_rebuild` (manage.py rebuild_rollups) recomputes any range, a day per
transaction.

With CALL_RECORD_RETENTION_DAYS set, call records before
`retention.call_records_kept_from()` are (being) deleted: the rollups of those
hours are the only figures left, so every path here (the beat refresh, a range
refresh, a rebuild) skips the hours before it instead of rewriting them to zero
(`kept_range`; the rebuild command says what it skipped).

The SQL is the ORM's, so it runs on PostgreSQL and SQLite alike.

Every recompute that commits gives the rollups a new version (`rollup_version`, in
the cache): readers key what they derive from the rollups (callbacks.stats caches
a dashboard's figures) by it, so a refresh invalidates them all at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from callbacks.models import (
    CallEvent,
    CallHourStat,
    CallHourTotal,
    CallHourX,
    CallRecord,
    RollupState,
)
from callbacks.retention import call_records_kept_from

logger = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
STATE_NAME = "calls"
ANSWERED = "answered"
# A record whose call_at moved further back than this from its first_seen_at is
# recomputed at its call_at hour only (a vendor clock far off; never seen).
_MAX_SPAN = timedelta(hours=48)
FIRST_LOOK_BACK = timedelta(days=1)


def recent_hours() -> int:
    return max(int(getattr(settings, "ROLLUP_RECENT_HOURS", 1)), 1)


def watermark_margin() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "ROLLUP_WATERMARK_MARGIN_SECONDS", 300)))


def hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(at: datetime) -> datetime:
    floor = hour_floor(at)
    return floor if floor == at else floor + HOUR


# --------------------------------------------------------------------- SQL


def _insert_select(model: type[models.Model], columns: list[str], queryset) -> int:
    """INSERT INTO model (columns) <the queryset's SELECT>; the queryset's
    values() lists the columns in the same order (checked)."""
    query = queryset.query
    selected = [*query.values_select, *query.annotation_select]
    if selected != columns:  # Django orders values() columns; never insert misaligned
        raise AssertionError(f"rollup SELECT yields {selected}, INSERT expects {columns}")
    sql, params = query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)
        return cursor.rowcount


def _stat_rows(start: datetime, end: datetime):
    return (
        CallRecord.objects.filter(call_at__gte=start, call_at__lt=end)
        .order_by()
        .values("vendor_account_id", "x_number", "outcome")
        .annotate(
            hour=TruncHour("call_at", tzinfo=UTC),
            calls=Count("*"),
            answered=Count("pk", filter=Q(outcome=ANSWERED)),
            talk_seconds=Coalesce(Sum("duration", filter=Q(outcome=ANSWERED)), 0),
        )
    )


def _total_rows(start: datetime, end: datetime):
    return (
        CallHourStat.objects.filter(hour__gte=start, hour__lt=end)
        .order_by()
        .values("hour", "vendor_account_id", "outcome")
        .annotate(
            calls=Sum("calls"),
            answered=Sum("answered"),
            talk_seconds=Sum("talk_seconds"),
        )
    )


def _x_rows(start: datetime, end: datetime):
    return (
        CallHourStat.objects.filter(hour__gte=start, hour__lt=end)
        .order_by()
        .values("hour", "vendor_account_id", "x_number")
        .annotate(
            # Before `calls`: past it, "calls" names the annotation, not the column.
            ended=Coalesce(Sum("calls", filter=~Q(outcome="")), 0),
            calls=Sum("calls"),
            answered=Sum("answered"),
            talk_seconds=Sum("talk_seconds"),
        )
    )


_STAT_COLUMNS = [
    "vendor_account_id",
    "x_number",
    "outcome",
    "hour",
    "calls",
    "answered",
    "talk_seconds",
]
_TOTAL_COLUMNS = ["hour", "vendor_account_id", "outcome", "calls", "answered", "talk_seconds"]
_X_COLUMNS = [
    "hour",
    "vendor_account_id",
    "x_number",
    "ended",
    "calls",
    "answered",
    "talk_seconds",
]
_TABLES = (CallHourStat, CallHourTotal, CallHourX)


def _lock_state() -> RollupState:
    """The state row, locked: two refreshes of one hour must not interleave their
    DELETE and INSERT (the second INSERT would hit the unique key)."""
    RollupState.objects.get_or_create(name=STATE_NAME)
    return RollupState.objects.select_for_update().get(name=STATE_NAME)


VERSION_KEY = "callbacks:rollups:version"


def rollup_version() -> str | None:
    """The rollups' current version, a token that changes whenever a recompute
    commits; None when the cache cannot be reached (then nothing is cached)."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:  # the cache only saves work: a dashboard must not fail with it
        logger.warning("rollup version: cache unavailable", exc_info=True)
        return None
    return version


def _new_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # cached figures then expire by their timeout (callbacks.stats)
        logger.warning("rollup version: cache unavailable", exc_info=True)


def _recompute(start: datetime, end: datetime) -> int:
    """Recompute the whole hours [start, end) (inside the caller's transaction)."""
    transaction.on_commit(_new_version)
    for table in _TABLES:
        table.objects.filter(hour__gte=start, hour__lt=end).delete()  # one DELETE: no cascades
    rows = _insert_select(CallHourStat, _STAT_COLUMNS, _stat_rows(start, end))
    _insert_select(CallHourTotal, _TOTAL_COLUMNS, _total_rows(start, end))
    _insert_select(CallHourX, _X_COLUMNS, _x_rows(start, end))
    return rows


# --------------------------------------------------------------------- use cases


def kept_range(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The whole hours of [since, until) whose call records are all kept (the
    start moved up to the retention boundary; end <= start when none is)."""
    start, end = hour_floor(since), hour_ceil(until)
    kept_from = call_records_kept_from()
    if kept_from is not None:
        start = max(start, kept_from)
    return start, end


def rollup_refresh(*, since: datetime, until: datetime) -> int:
    """Recompute every hour that [since, until) touches whose records are kept,
    in one transaction; returns the number of CallHourStat rows written."""
    start, end = kept_range(since, until)
    if end <= start:
        return 0
    with transaction.atomic():
        _lock_state()
        return _recompute(start, end)


def _merge(hours: set[datetime]) -> list[tuple[datetime, datetime]]:
    """Contiguous runs of hours as [start, end) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


def changed_hours(*, since: datetime, before: datetime) -> set[datetime]:
    """The hours before `before` holding records changed at or after `since` (and
    the hours they may have left: module docstring)."""
    changed = CallRecord.objects.filter(updated_at__gte=since, call_at__lt=before).order_by()
    call_hour = TruncHour("call_at", tzinfo=UTC)
    hours = set(changed.values_list(call_hour, flat=True).distinct())
    # A record can only have left a later hour if it was first stored in a later
    # hour and events made it (a CDR merged into it); the normalizer never moves a
    # record that a CDR made.  Usually no row passes the first test.
    moved = (
        changed.annotate(call_hour=call_hour)
        .filter(first_seen_at__gte=F("call_hour") + HOUR)
        .filter(Exists(CallEvent.objects.filter(call_record=OuterRef("pk"))))
        .values_list("call_hour", TruncHour("first_seen_at", tzinfo=UTC))
        .distinct()
    )
    for first, seen_hour in moved:
        hour, last = first, min(seen_hour, first + _MAX_SPAN, before - HOUR)
        while hour <= last:
            hours.add(hour)
            hour += HOUR
    return hours


@dataclass(frozen=True)
class RefreshResult:
    ranges: list[tuple[datetime, datetime]]
    rows: int


def rollup_refresh_recent(*, now: datetime | None = None) -> RefreshResult:
    """The beat job: the recent hours, and every hour with records changed since
    the previous run (at a steady ingest: the current hour, and the previous one
    just after the hour turns)."""
    now = now or timezone.now()
    end = hour_floor(now) + HOUR
    with transaction.atomic():
        state = _lock_state()
        hours = {end - HOUR * (i + 1) for i in range(recent_hours())}
        # A first run looks a day back (an upgrade rebuilds the rest: rebuild_rollups).
        since = (state.watermark or now - FIRST_LOOK_BACK) - watermark_margin()
        hours |= changed_hours(since=since, before=end)
        # A CDR for a call older than the retention makes a record in a pruned hour:
        # recomputing that hour would replace its figures by that one call.
        kept_from = call_records_kept_from(now=now)
        ranges = _merge({h for h in hours if kept_from is None or h >= kept_from})
        rows = sum(_recompute(start, stop) for start, stop in ranges)
        state.watermark = now
        state.refreshed_at = timezone.now()
        state.save(update_fields=["watermark", "refreshed_at"])
    return RefreshResult(ranges=ranges, rows=rows)


def rollup_rebuild(*, since: datetime, until: datetime, step: timedelta = timedelta(days=1)):
    """Recompute [since, until) one `step` per transaction (a 10M-row table is not
    rebuilt in one transaction); yields (start, end, rows) as it goes.  Hours
    before the call records' retention are skipped (`kept_range`)."""
    start, end = kept_range(since, until)
    while start < end:
        stop = min(start + step, end)
        yield start, stop, rollup_refresh(since=start, until=stop)
        start = stop
    if connection.vendor == "postgresql":
        # Fresh statistics: the planner saw the tables before a rebuild filled them.
        with connection.cursor() as cursor:
            for table in _TABLES:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table._meta.db_table)}")


def first_call_at() -> datetime | None:
    """The earliest call_at (indexed): where a full rebuild starts."""
    return CallRecord.objects.order_by("call_at").values_list("call_at", flat=True).first()


def rollup_last_refresh() -> datetime | None:
    """When the rollups were last refreshed (pages say how fresh their figures are)."""
    return (
        RollupState.objects.filter(name=STATE_NAME).values_list("refreshed_at", flat=True).first()
    )
