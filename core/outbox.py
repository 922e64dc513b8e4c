"""The outbox: outbound work is recorded in the database before it is announced.

A service that accepts work for a vendor (a bind, a release, a send, a sub-account
create) calls `add(task=..., object_id=...)` inside the transaction that writes the
row the work is for. The row (core.models.OutboxItem) is the record; the Celery
message published on commit is only a doorbell, the fast path. Whatever happens to
that message (a broker outage swallows it, a worker is killed holding it) the row
stays until the work's result is recorded:

- `claim` (the task, before its vendor call) takes a lease of OUTBOX_LEASE_SECONDS,
  longer than any vendor call without an idempotency key (settings explains the
  number), and counts the attempt.
  A live lease held by another worker, or no row at all because the work is done,
  and the task does nothing.
- `done` deletes the row, in the transaction that records the vendor's result.
- `retry_later` (a vendor "try again") frees the row and keeps it from everyone
  until its countdown has passed: a backoff is a lease nobody holds.
- `dispatch` (beat, every OUTBOX_DISPATCH_SECONDS) publishes rows that are due:
  never rung (a lost doorbell: due DOORBELL_GRACE after the write), whose backoff
  has passed, or whose holder's lease expired (a killed worker). It takes them
  with SELECT ... FOR UPDATE SKIP LOCKED, so two dispatchers never publish one row
  in the same tick, and moves their due_at a lease ahead, so a message that sits in
  a busy queue is published again only once a lease.

A redo therefore happens only after a lease has expired; the services make it safe
(an igw bind reuses its reqid; kinds and sends without an idempotency key find the
started attempt and fail as "outcome unknown" rather than call twice).

`run` is the tasks' side of all this (claim, call the service, retry or finish); a
message that finds no row (sent before the outbox existed, or a direct call) runs
the service as before, whose state checks make a redo harmless.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.models import OutboxItem

logger = logging.getLogger(__name__)

# A doorbell's task normally claims its row within milliseconds; one not claimed
# this long after the write is published by the dispatcher (its message was lost,
# or the queue is long: then the task runs twice and the second finds it done).
DOORBELL_GRACE = timedelta(seconds=5)
# After a failed doorbell, this process leaves the publishing to the dispatcher for
# this long; its rows are published within seconds of the broker's return anyway.
BROKER_DOWN_PAUSE = 30.0
_broker_down_until = 0.0
# Rows the dispatcher publishes per tick; the rest wait for the next one.
DISPATCH_BATCH = 500
MAX_ERROR = 2000


def lease_seconds() -> int:
    return settings.OUTBOX_LEASE_SECONDS


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


# --------------------------------------------------------------------------- write side


def add(*, task: str, object_id: int, countdown: int = 0) -> None:
    """Record `task(object_id)` in the surrounding transaction and ring on commit.

    Must run inside the transaction that writes the row the work is for (the
    caller's `transaction.atomic()`), so the work exists exactly when that row
    does. A row already recorded for the same work is kept as it is.
    """
    now = timezone.now()
    due = now + max(DOORBELL_GRACE, timedelta(seconds=countdown))
    lease = now + timedelta(seconds=countdown) if countdown else None
    OutboxItem.objects.bulk_create(
        [OutboxItem(task=task, object_id=object_id, due_at=due, lease_until=lease)],
        ignore_conflicts=True,
    )
    # A closure, not a partial: Django names the callback (__qualname__) when it fails.
    transaction.on_commit(lambda: doorbell(task, object_id, countdown), robust=True)


def doorbell(task: str, object_id: int, countdown: int = 0) -> bool:
    """`ring` from a commit hook: skipped while this process saw the broker fail in
    the last BROKER_DOWN_PAUSE, so an outage costs one request the connection
    attempt (kombu retries it for broker_connection_timeout, 4 s), not every one."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    rang = ring(task, object_id, countdown)
    if not rang:
        _broker_down_until = time.monotonic() + BROKER_DOWN_PAUSE
    return rang


def ring(task: str, object_id: int, countdown: int = 0) -> bool:
    """Publish the task's message; False (logged) if the broker refused it, since the
    outbox row makes the dispatcher publish it once the broker is back."""
    from celery import current_app

    try:
        # Web processes never autodiscover tasks: importing the module registers them.
        importlib.import_module(task.rsplit(".", 1)[0])
    except ImportError as exc:
        raise KeyError(task) from exc
    registered = current_app.tasks[task]  # KeyError: not a task of this code base
    try:
        if countdown:
            registered.apply_async(args=[object_id], countdown=countdown)
        else:
            registered.delay(object_id)
    except Exception as exc:  # any broker failure: the row stays
        logger.warning(
            "outbox: cannot publish %s(%s), the dispatcher will: %s", task, object_id, exc
        )
        return False
    return True


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class Claim:
    attempts: int  # this claim included
    until: datetime  # the lease's end: what tells this holder's lease from a successor's


def claim(*, task: str, object_id: int) -> Claim | bool | None:
    """Take the lease on the work's row and count the attempt (committed).

    Returns the Claim; None if there is no row (done, or never recorded); False if
    another worker holds a live lease or a retry's backoff has not passed.
    """
    now = timezone.now()
    until = now + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        item = (
            OutboxItem.objects.select_for_update()
            .filter(task=task, object_id=object_id)
            .only("pk", "lease_until", "attempts")
            .first()
        )
        if item is None:
            return None
        if item.lease_until is not None and item.lease_until > now:
            return False
        OutboxItem.objects.filter(pk=item.pk).update(
            lease_until=until, due_at=until, attempts=F("attempts") + 1
        )
    return Claim(attempts=item.attempts + 1, until=until)


def done(*, task: str, object_id: int) -> None:
    """The work's result is recorded: delete its row (call inside that transaction)."""
    OutboxItem.objects.filter(task=task, object_id=object_id).delete()


def retry_later(
    *,
    task: str,
    object_id: int,
    countdown: int,
    error: str = "",
    held: Claim | None = None,
) -> None:
    """Free the row and let nobody take it for `countdown` seconds; the dispatcher
    publishes it then. With `held`, only while that claim's lease is still the row's
    (a worker whose lease ran out must not shorten its successor's)."""
    until = timezone.now() + timedelta(seconds=max(countdown, 0))
    rows = OutboxItem.objects.filter(task=task, object_id=object_id)
    if held is not None:
        rows = rows.filter(lease_until=held.until)
    rows.update(lease_until=until, due_at=until, last_error=error[:MAX_ERROR])


def run(
    task,
    object_id: int,
    attempt: Callable[[bool], None],
    retry_later_exc: type[Exception] | tuple[()] = (),
    *,
    settled: Callable[[], bool],
) -> None:
    """A task's body: claim the row, `attempt(final_attempt)`, then finish or retry.

    `attempt` raises `retry_later_exc` (carrying `countdown` and the vendor `error`)
    for a vendor "try again". `settled()` says whether the work's object has left the
    state the work was for (the binding is no longer pending, ...): then the row is
    done, whoever recorded the result; otherwise it is freed for the dispatcher.
    Eagerly (the tests' default) retries run back to back, as core.tasks explains.
    """
    from core.tasks import run_with_retries

    got = claim(task=task.name, object_id=object_id)
    if got is False:
        return
    if got is None:  # no record: a message from before the outbox, or a direct call
        run_with_retries(task, attempt, retry_later_exc)
        return
    retries = got.attempts - 1
    while True:
        try:
            attempt(retries >= task.max_retries)
        except retry_later_exc as exc:
            if task.request.is_eager:
                retries += 1
                continue
            retry_later(
                task=task.name,
                object_id=object_id,
                countdown=exc.countdown,
                error=str(exc.error),
                held=got,
            )
            return
        except Exception as exc:
            # A bug or the database: keep the row, back off, let the dispatcher retry.
            countdown = min(15 * 2 ** min(retries, 6), 600)
            retry_later(
                task=task.name, object_id=object_id, countdown=countdown, error=repr(exc), held=got
            )
            raise
        break
    if settled():
        done(task=task.name, object_id=object_id)
    else:
        # Left waiting (a send whose started call is not yet known to be abandoned):
        # looked at again shortly.
        grace = int(DOORBELL_GRACE.total_seconds())
        retry_later(task=task.name, object_id=object_id, countdown=grace, held=got)


def left(model, pk: int, state: str) -> Callable[[], bool]:
    """A `settled` for `run`: the work's object is no longer in `state` (the
    binding left pending, the send left pending, ...), whoever moved it."""
    return lambda: not model.objects.filter(pk=pk, state=state).exists()


# --------------------------------------------------------------------------- dispatcher


def dispatch(*, now: datetime | None = None, limit: int = DISPATCH_BATCH) -> int:
    """Publish every due row (beat). Returns how many were published.

    Rows are taken under SKIP LOCKED and moved a lease ahead in one short
    transaction, then published after it commits; a publish that fails puts its row
    (and the rest of the batch) back as due now, for the next tick.
    """
    now = now or timezone.now()
    ahead = now + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        due = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .filter(_free(now))
            .order_by("due_at")
            .values_list("pk", "task", "object_id")[:limit]
        )
        OutboxItem.objects.filter(pk__in=[pk for pk, _, _ in due]).update(due_at=ahead)
    published = 0
    for index, (pk, task, object_id) in enumerate(due):
        try:
            rang = ring(task, object_id)
        except KeyError:
            # A task renamed or removed by an upgrade: kept for a person to look at.
            logger.error("outbox: no task %s; row %s left for an hour", task, pk)
            OutboxItem.objects.filter(pk=pk).update(
                due_at=now + timedelta(hours=1), last_error=f"no task named {task}"
            )
            continue
        if not rang:
            unsent = [pk for pk, _, _ in due[index:]]
            OutboxItem.objects.filter(pk__in=unsent, due_at=ahead).update(due_at=now)
            break
        published += 1
    return published


# --------------------------------------------------------------------------- migrations


def record_waiting(apps, *, model: str, state: str, task: str) -> None:
    """For a data migration: put in the outbox the work of rows of `model` ("app.Model")
    that wait in `state`, written before the outbox existed (their messages may be lost)."""
    item = apps.get_model("core", "OutboxItem")
    now = timezone.now()
    ids = apps.get_model(model).objects.filter(state=state).values_list("pk", flat=True)
    item.objects.bulk_create(
        [item(task=task, object_id=pk, due_at=now) for pk in ids.iterator()],
        batch_size=1000,
        ignore_conflicts=True,
    )
