"""The inbox's queue: deliveries stored RECEIVED on arrival, normalized here in
batches by workers (see callbacks/inbox.py for the whole pipeline).

`deliveries_normalize` claims a batch with SELECT ... FOR UPDATE SKIP LOCKED
(workers share the queue without waiting on each other; a no-op on SQLite, where
writes are serialized anyway), applies every delivery in ONE transaction and
marks them with one UPDATE.  The batch is applied with a few multi-row
statements for all its deliveries together (normalize.apply_batch: one
SELECT ... FOR UPDATE of the calls already stored, one INSERT of the new
records, one of the events, one UPDATE of the merged records), not statements
per CDR.  If the batch fails (or meets a call another worker is storing), it is
rolled back and redone delivery by delivery under savepoints: the bad one is
marked failed_processing, the rest are applied.  If the database itself fails,
everything rolls back and the rows stay queued for the next run: a lost batch
is redone, never doubled (the upserts are idempotent, and the rows are marked
in the same transaction).

`deliveries_normalize_soon` rings the bell after an arrival commits: at most
one task per process per window (the first at once, later ones trailing), so
a burst of CDRs makes a few tasks, not one per CDR.  The beat sweeper runs the
same task, so a lost message, a broker outage or a killed worker only delays.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction

import vendors
from accounts.selectors import vendor_client
from callbacks import hotsql
from callbacks.models import Delivery
from callbacks.normalize import _validate_items, apply_batch, apply_delivery
from callbacks.text import failure_text

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome

_MARKED = ["outcome", "reason", "traceback", "call_ids", "processed_at"]


def batch_size() -> int:
    return int(getattr(settings, "CALLBACKS_NORMALIZE_BATCH", 200))


def deliveries_normalize(*, limit: int | None = None) -> int:
    """Normalize up to `limit` queued deliveries; how many were taken."""
    limit = limit or batch_size()
    try:
        return _normalize_batch(limit, isolated=False)
    except Exception:
        logger.warning("callbacks: a normalization batch failed; redoing it one by one")
    return _normalize_batch(limit, isolated=True)


def _normalize_batch(limit: int, *, isolated: bool) -> int:
    """Claim, apply and mark one batch in one transaction; how many were taken."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            _commit_without_waiting()
        batch = _claim(limit)
        if isolated:
            for delivery in batch:
                _normalize_isolated(delivery)
        else:
            apply_batch([(d, items) for d in batch if (items := _parsed(d)) is not None])
        _mark(batch)
        return len(batch)


def _commit_without_waiting() -> None:
    """Let this transaction's COMMIT return before its WAL is on disk.

    Safe because a batch is redone, never lost: should the server crash before
    the WAL writer flushes it (within ~3 x wal_writer_delay), the records AND the
    marks vanish together, and the raw deliveries (committed durably when they
    were acknowledged) are queued again.  Measured: with the normalizer's
    commits waiting for fsync, the webhook's own commits queued behind them on a
    small disk.  Only for the outermost transaction (never a caller's)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def deliveries_normalize_all(*, budget_seconds: float = 5.0) -> int:
    """Drain the queue batch after batch for up to `budget_seconds`; how many.
    Rings again if the queue is still full when the budget runs out."""
    deadline = time.monotonic() + budget_seconds
    done = 0
    limit = batch_size()
    while True:
        taken = deliveries_normalize(limit=limit)
        done += taken
        if taken < limit:
            return done
        if time.monotonic() >= deadline:
            deliveries_normalize_soon()
            return done


def _claim(limit: int) -> list[Delivery]:
    return list(
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(outcome=Outcome.RECEIVED, authenticated=True)
        .select_related("vendor_account")
        .order_by("id")[:limit]
    )


def _parsed(delivery: Delivery) -> list | None:
    """The claimed delivery's items, or None with its outcome set (not saved)."""
    try:
        return _parse(delivery)
    except vendors.InvalidPayload as exc:  # parsed on arrival: only if the parser changed
        delivery.set_outcome(Outcome.REJECTED_INVALID, reason=str(exc))
    except Exception as exc:  # our bug: the row must not block the queue
        _failed(delivery, exc)
    return None


def _normalize_isolated(delivery: Delivery) -> None:
    """Parse and apply one claimed delivery under a savepoint, setting its outcome
    (not saved): a failure marks this delivery alone."""
    items = _parsed(delivery)
    if items is None:
        return
    try:
        with transaction.atomic():
            apply_delivery(delivery, items)
    except Exception as exc:
        _failed(delivery, exc)


def _parse(delivery: Delivery) -> list:
    client = vendor_client(account=delivery.vendor_account, offline=True)
    items = client.parse_callback(
        delivery.kind,
        body=bytes(delivery.body),
        content_type=delivery.content_type,
        now=delivery.received_at,
    )
    _validate_items(items)
    return items


def _failed(delivery: Delivery, exc: Exception) -> None:
    logger.exception("callbacks: delivery %s failed normalization", delivery.pk)
    reason, trace = failure_text(exc)
    delivery.set_outcome(Outcome.FAILED_PROCESSING, reason=reason, traceback=trace, call_ids=[])


def _mark(batch: list[Delivery]) -> None:
    hotsql.update_many(batch, _MARKED)


# ---------------------------------------------------------------------- the bell

_lock = threading.Lock()
_due = float("-inf")  # when this process's latest task is due (time.monotonic)


def window_seconds() -> float:
    return float(getattr(settings, "CALLBACKS_NORMALIZE_WINDOW_SECONDS", 0.2))


def deliveries_normalize_soon() -> None:
    """Make sure a normalization task runs after now.

    A task already due later will see what committed before it: nothing to do.
    Else one is sent at once, or (within a window of the last) with a countdown
    to the window's end.  A broker outage is logged, not raised: the rows are
    queued in the database and the beat sweeper takes them.
    """
    global _due
    now = time.monotonic()
    with _lock:
        # The common case, on every CDR of a burst: one comparison, no Celery lookup.
        if _due > now:
            return
        from callbacks.tasks import deliveries_normalize as task

        countdown = max(0.0, _due + window_seconds() - now)
        # Eager (tests, no broker): a task runs at once, not when due, so none waits.
        _due = float("-inf") if task.app.conf.task_always_eager else now + countdown
    try:
        task.apply_async(countdown=countdown or None, retry=False)
    except Exception:
        logger.warning("callbacks: cannot ring the normalizer; the sweeper will")
