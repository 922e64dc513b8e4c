"""Retention: how long the inbox and the call tables keep what they store.

Three jobs, run one after the other by the beat task `callbacks.tasks.retention_prune`
(every RETENTION_PRUNE_SECONDS, default 10 minutes), each for at most a few seconds
a run (the next run resumes):

- **Delivery bodies** older than DELIVERY_BODY_RETENTION_DAYS (default 30) are
  emptied: `body` becomes b"" and `body_pruned_at` is set.  The row, its headers,
  outcome, reason, body_size and call ids stay; the deliveries page says "body
  pruned" and a replay is refused with that reason.  An igw form CDR's body (221
  bytes) is 38% of its row; JSON and XML bodies of other vendors are larger.
- **Delivery rows** older than DELIVERY_RETENTION_DAYS (default 180) are deleted.
- **Call records** older than CALL_RECORD_RETENTION_DAYS (default 0: kept for
  ever) are deleted with their events, playback audit and recording file.  The
  rollups are the long-term summary and keep their figures: the rollup refresh
  and `rebuild_rollups` never recompute an hour before `call_records_kept_from()`
  (callbacks/rollups.py), and the pruning stays an hour behind that boundary so
  a refresh running as the hour turns never reads an hour being pruned.

A delivery still queued for the normalizer (received, authenticated) is never
pruned: its body is the only copy of what the vendor said.

Why pruning and not partitioning: PostgreSQL's declarative partitioning by month
would make dropping a month free, but every unique key of a partitioned table must
include the partition key, and CallRecord's (account, vendor call id) cannot (a
CDR arriving late must find its call whatever the month; the normalizer's upsert
relies on that key); the quick start runs on SQLite; and a month is a coarse
retention step.  Deleting in batches of 1,000 keeps one schema everywhere and
costs little (bench/bench_table_growth.py prints its rows per second).

Every batch is its own short transaction (SET LOCAL lock_timeout on PostgreSQL,
so a batch that meets a lock gives up instead of queueing ingest behind it: the
next run resumes).  Batches walk the primary key (deliveries) or the call_at index
(call records) in CALLBACKS_PRUNE_BATCH_ROWS steps (1,000); the body job remembers how far it went
in a PruneMark row, so it never rescans months of rows it already emptied.
PostgreSQL reuses the freed space for new rows after autovacuum: the tables stop
growing, they do not shrink on disk (VACUUM FULL or pg_repack would do that).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from callbacks import conf
from callbacks.generate import SAMPLE_RECORDING  # shared by generated calls: kept
from callbacks.models import CallEvent, CallRecord, Delivery, PruneMark, RecordingPlayback
from callbacks.recordings import _delete_file  # the same warning when a file will not go

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
BODIES = "delivery_bodies"
_QUEUED = Q(outcome=Delivery.Outcome.RECEIVED, authenticated=True)


@dataclass
class PruneResult:
    bodies: int = 0
    deliveries: int = 0
    call_records: int = 0
    events: int = 0

    def __str__(self) -> str:
        return (
            f"{self.bodies} delivery bodies emptied, {self.deliveries} deliveries deleted, "
            f"{self.call_records} call records deleted with {self.events} events"
        )


def retention_prune(*, now: datetime | None = None, budget_seconds: float = 20.0) -> PruneResult:
    """The beat job: every retention rule in turn, each for up to `budget_seconds`."""
    now = now or timezone.now()
    result = PruneResult()
    result.bodies = delivery_bodies_prune(now=now, budget_seconds=budget_seconds)
    result.deliveries = deliveries_prune(now=now, budget_seconds=budget_seconds)
    result.call_records, result.events = call_records_prune(now=now, budget_seconds=budget_seconds)
    return result


@contextmanager
def _batch():
    """One batch's transaction; on PostgreSQL it will not wait long for a lock."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
        yield


def _batches(budget_seconds: float, job: str):
    """Yield until the budget is spent (a run's loop breaks earlier when done)."""
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        yield
    logger.info("callbacks: retention %s stopped at its time budget; the next run resumes", job)


def _old_prefix(rows: list[tuple], cutoff: datetime) -> list[tuple]:
    """The rows before the first one received at or after `cutoff` (ids follow
    arrival closely, so past it everything is recent)."""
    for i, row in enumerate(rows):
        if row[1] >= cutoff:
            return rows[:i]
    return rows


# ------------------------------------------------------------ delivery bodies


def delivery_bodies_prune(*, now: datetime | None = None, budget_seconds: float = 20.0) -> int:
    """Empty the bodies of deliveries older than DELIVERY_BODY_RETENTION_DAYS; how many."""
    days = conf.delivery_body_retention_days()
    if not days:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    pruned = 0
    try:
        for _ in _batches(budget_seconds, BODIES):
            done, more = _bodies_batch(cutoff, now)
            pruned += done
            if not more:
                break
    except DatabaseError:
        logger.warning("callbacks: delivery body pruning stopped by the database", exc_info=True)
    return pruned


def _bodies_batch(cutoff: datetime, now: datetime) -> tuple[int, bool]:
    """Empty one batch of bodies after the mark; (emptied, whether to go on)."""
    size = conf.prune_batch_rows()
    with _batch():
        PruneMark.objects.get_or_create(name=BODIES)
        # The mark's row lock serializes two runs (an overlapping beat).
        mark = PruneMark.objects.select_for_update().get(name=BODIES)
        rows = list(
            Delivery.objects.filter(id__gt=mark.last_id)
            .order_by("id")
            .values_list("id", "received_at")[:size]
        )
        old = _old_prefix(rows, cutoff)
        done = 0
        if old:
            done = (
                Delivery.objects.filter(id__gte=old[0][0], id__lte=old[-1][0])
                .filter(received_at__lt=cutoff, body_pruned_at__isnull=True)
                .exclude(_QUEUED)
                .update(body=b"", body_pruned_at=now)
            )
            mark.last_id = old[-1][0]
        mark.ran_at = now
        mark.save(update_fields=["last_id", "ran_at"])
    return done, len(old) == size


# ------------------------------------------------------------ delivery rows


def deliveries_prune(*, now: datetime | None = None, budget_seconds: float = 20.0) -> int:
    """Delete deliveries older than DELIVERY_RETENTION_DAYS; how many."""
    days = conf.delivery_retention_days()
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    size = conf.prune_batch_rows()
    deleted, after = 0, 0
    try:
        for _ in _batches(budget_seconds, "deliveries"):
            with _batch():
                rows = list(
                    Delivery.objects.filter(id__gt=after)
                    .order_by("id")
                    .values_list("id", "received_at")[:size]
                )
                old = _old_prefix(rows, cutoff)
                if not old:
                    break
                after = old[-1][0]
                batch = Delivery.objects.filter(id__gte=old[0][0], id__lte=after)
                count, _ = batch.filter(received_at__lt=cutoff).exclude(_QUEUED).delete()
                deleted += count
            if len(old) < size:
                break
    except DatabaseError:
        logger.warning("callbacks: delivery pruning stopped by the database", exc_info=True)
    return deleted


# ------------------------------------------------------------ call records


def call_records_kept_from(*, now: datetime | None = None) -> datetime | None:
    """The first UTC hour whose call records are all kept (None: kept for ever).
    The rollups of earlier hours are final: nothing recomputes them."""
    days = conf.call_record_retention_days()
    if not days:
        return None
    at = (now or timezone.now()) - timedelta(days=days)
    return at.replace(minute=0, second=0, microsecond=0)


def call_records_prune(
    *, now: datetime | None = None, budget_seconds: float = 20.0
) -> tuple[int, int]:
    """Delete call records older than CALL_RECORD_RETENTION_DAYS with their events,
    playbacks and recording files; (records, events) deleted."""
    kept_from = call_records_kept_from(now=now)
    if kept_from is None:
        return 0, 0
    cutoff = kept_from - HOUR  # a margin behind what the rollup refresh may read
    size = conf.prune_batch_rows()
    records = events = 0
    try:
        for _ in _batches(budget_seconds, "call records"):
            taken, deleted = _records_batch(cutoff, size)
            records += taken
            events += deleted
            if taken < size:
                break
    except DatabaseError:
        logger.warning("callbacks: call record pruning stopped by the database", exc_info=True)
    return records, events


def _records_batch(cutoff: datetime, size: int) -> tuple[int, int]:
    """Delete the oldest `size` call records before `cutoff` and what hangs on them;
    (records, events) deleted."""
    with _batch():
        rows = list(
            CallRecord.objects.filter(call_at__lt=cutoff)
            .order_by("call_at")
            .values_list("id", "recording_file")[:size]
        )
        if not rows:
            return 0, 0
        ids = [pk for pk, _ in rows]
        events = CallEvent.objects.filter(call_record_id__in=ids).delete()[0]
        RecordingPlayback.objects.filter(call_record_id__in=ids).delete()
        # Its dependents are gone: one DELETE, not the collector's SELECT first.
        records = CallRecord.objects.filter(id__in=ids)._raw_delete(connection.alias)
        for name in {name for _, name in rows if name and name != SAMPLE_RECORDING}:
            transaction.on_commit(partial(_delete_file, name))
    return records, events
