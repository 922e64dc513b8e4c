"""core.outbox: the record, the lease, the retry's backoff and the dispatcher."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxItem

pytestmark = pytest.mark.django_db

TASK = "privacy.tasks.binding_bind_at_vendor"  # any registered task taking one id


@pytest.fixture
def rung(monkeypatch):
    """What `ring` published: [(task, object_id)], nothing sent to a broker."""
    calls: list[tuple[str, int]] = []

    def ring(task, object_id, countdown=0):
        from celery import current_app

        current_app.tasks[task]
        calls.append((task, object_id))
        return True

    monkeypatch.setattr(outbox, "ring", ring)
    return calls


def test_add_records_the_work_once_and_rings_on_commit(rung, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.add(task=TASK, object_id=7)
        outbox.add(task=TASK, object_id=7)  # the same work: one row
        assert rung == []
    assert rung == [(TASK, 7), (TASK, 7)]
    item = OutboxItem.objects.get()
    assert item.lease_until is None and item.due_at > timezone.now()


def test_a_claim_holds_the_lease_until_it_expires(settings):
    settings.OUTBOX_LEASE_SECONDS = 60
    OutboxItem.objects.create(task=TASK, object_id=1, due_at=timezone.now())
    first = outbox.claim(task=TASK, object_id=1)
    assert first.attempts == 1 and first.until > timezone.now() + timedelta(seconds=59)
    assert outbox.claim(task=TASK, object_id=1) is False  # a twin message
    assert outbox.claim(task=TASK, object_id=2) is None  # no such work (done)
    OutboxItem.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    second = outbox.claim(task=TASK, object_id=1)
    assert second.attempts == 2  # taken over
    # The first holder, back from a long call, leaves its successor's lease alone.
    outbox.retry_later(task=TASK, object_id=1, countdown=0, held=first)
    assert OutboxItem.objects.get().lease_until == second.until


def test_retry_later_is_a_lease_nobody_holds(rung):
    OutboxItem.objects.create(task=TASK, object_id=1, due_at=timezone.now())
    outbox.retry_later(task=TASK, object_id=1, countdown=30, error="busy")
    item = OutboxItem.objects.get()
    assert item.last_error == "busy" and item.due_at == item.lease_until > timezone.now()
    assert outbox.claim(task=TASK, object_id=1) is False
    assert outbox.dispatch() == 0
    assert outbox.dispatch(now=item.due_at) == 1 and rung == [(TASK, 1)]


def test_dispatch_publishes_what_is_due_and_waits_a_lease_before_again(rung, settings):
    settings.OUTBOX_LEASE_SECONDS = 60
    now = timezone.now()
    OutboxItem.objects.create(task=TASK, object_id=1, due_at=now - timedelta(seconds=1))
    OutboxItem.objects.create(task=TASK, object_id=2, due_at=now + timedelta(seconds=5))
    OutboxItem.objects.create(  # held by a live worker
        task=TASK, object_id=3, due_at=now, lease_until=now + timedelta(seconds=30)
    )
    assert outbox.dispatch(now=now) == 1 and rung == [(TASK, 1)]
    assert outbox.dispatch(now=now + timedelta(seconds=10)) == 1  # object 2, not 1 again
    assert outbox.dispatch(now=now + timedelta(seconds=61)) == 2  # 1's message was lost; 3's lease
    assert sorted(rung) == [(TASK, 1), (TASK, 1), (TASK, 2), (TASK, 3)]


def test_a_failed_publish_leaves_the_rows_due(monkeypatch):
    now = timezone.now()
    for pk in (1, 2):
        OutboxItem.objects.create(task=TASK, object_id=pk, due_at=now)
    monkeypatch.setattr(outbox, "ring", lambda *a: False)  # the broker is down
    assert outbox.dispatch(now=now) == 0
    assert OutboxItem.objects.filter(due_at=now).count() == 2


def test_an_unknown_task_is_set_aside_not_blocking_the_rest(rung):
    now = timezone.now()
    OutboxItem.objects.create(task="gone.tasks.removed", object_id=1, due_at=now)
    OutboxItem.objects.create(task=TASK, object_id=2, due_at=now + timedelta(microseconds=1))
    assert outbox.dispatch(now=now + timedelta(seconds=1)) == 1 and rung == [(TASK, 2)]
    gone = OutboxItem.objects.get(object_id=1)
    assert gone.due_at > now + timedelta(minutes=59) and "no task" in gone.last_error


def test_the_doorbell_leaves_publishing_to_the_dispatcher_while_the_broker_is_down(monkeypatch):
    calls = []

    def ring(*args):
        calls.append(args)
        return False

    monkeypatch.setattr(outbox, "ring", ring)
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    assert outbox.doorbell(TASK, 1) is False
    assert outbox.doorbell(TASK, 2) is False
    assert calls == [(TASK, 1, 0)]  # one request paid for the failed connection


def test_a_migration_records_the_work_of_rows_from_before_the_outbox():
    from django.apps import apps

    from tests.factories import BindingFactory

    waiting = BindingFactory(state="pending")
    BindingFactory(state="active")
    outbox.record_waiting(apps, model="privacy.Binding", state="pending", task=TASK)
    outbox.record_waiting(apps, model="privacy.Binding", state="pending", task=TASK)  # again
    assert list(OutboxItem.objects.values_list("task", "object_id")) == [(TASK, waiting.pk)]
