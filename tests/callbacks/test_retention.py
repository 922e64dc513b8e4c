"""Retention (callbacks/retention.py): old delivery bodies emptied, old deliveries
and call records deleted in batches; pruned bodies are shown and refused for
replay; the rollups of pruned hours are never recomputed."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from callbacks import retention, rollups, services
from callbacks.models import (
    CallEvent,
    CallHourTotal,
    CallRecord,
    Delivery,
    PruneMark,
    RecordingPlayback,
)
from ccp_console.celery import app as celery_app
from tests.factories import CallEventFactory, CallRecordFactory, DeliveryFactory
from tests.payloads import igw_cdr, post_form

pytestmark = pytest.mark.django_db

Outcome = Delivery.Outcome


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def small_batches(settings):
    settings.CALLBACKS_PRUNE_BATCH_ROWS = 2


def _deliveries(account, *, days_ago: float, count: int = 1, **fields):
    at = timezone.now() - timedelta(days=days_ago)
    fields.setdefault("outcome", Outcome.ACCEPTED)
    return [DeliveryFactory(vendor_account=account, received_at=at, **fields) for _ in range(count)]


def _calls(rows):
    return rows.aggregate(calls=Sum("calls"))["calls"] or 0


# ------------------------------------------------------------ delivery bodies


def test_old_bodies_are_emptied_in_batches_and_rows_stay(igw_account, small_batches, now):
    old = _deliveries(igw_account, days_ago=31, count=5)
    recent = _deliveries(igw_account, days_ago=29, count=2)
    queued = _deliveries(igw_account, days_ago=40, outcome=Outcome.RECEIVED, authenticated=True)

    assert retention.delivery_bodies_prune(now=now) == 5

    for delivery in Delivery.objects.filter(pk__in=[d.pk for d in old]):
        assert bytes(delivery.body) == b"" and delivery.body_pruned_at == now
        assert delivery.body_size == 3 and delivery.outcome == Outcome.ACCEPTED
    for delivery in Delivery.objects.filter(pk__in=[d.pk for d in recent + queued]):
        assert bytes(delivery.body) == b"a=b" and delivery.body_pruned_at is None
    # The mark stops before the first recent row: the next run starts there.
    assert PruneMark.objects.get(name=retention.BODIES).last_id == old[-1].pk
    assert retention.delivery_bodies_prune(now=now) == 0


def test_body_retention_zero_keeps_every_body(igw_account, settings, now):
    settings.CALLBACKS_DELIVERY_BODY_RETENTION_DAYS = 0
    _deliveries(igw_account, days_ago=400)
    assert retention.delivery_bodies_prune(now=now) == 0
    assert not Delivery.objects.filter(body_pruned_at__isnull=False).exists()


def test_a_pruned_body_is_shown_as_pruned_and_refused_for_replay(operator_client, igw_account, now):
    (delivery,) = _deliveries(igw_account, days_ago=31, outcome=Outcome.FAILED_PROCESSING)
    retention.delivery_bodies_prune(now=now)
    delivery.refresh_from_db()
    assert not delivery.is_replayable

    html = operator_client.get(reverse("callbacks:delivery_detail", args=[delivery.pk])).content
    assert b"Body pruned on" in html and b"kept 30 days" in html
    assert b">Replay<" not in html
    assert b"body pruned" in operator_client.get(reverse("callbacks:delivery_list")).content

    url = reverse("callbacks:delivery_replay", args=[delivery.pk])
    response = operator_client.post(url, follow=True)
    assert response.status_code == 200
    assert b"its body was pruned on" in response.content
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.FAILED_PROCESSING and delivery.attempts == 0


def test_replay_many_and_the_command_name_pruned_bodies(igw_account, now):
    _deliveries(igw_account, days_ago=31, outcome=Outcome.FAILED_PROCESSING)
    retention.delivery_bodies_prune(now=now)
    counts = services.delivery_replay_many(deliveries=Delivery.objects.all())
    assert counts == {services.BODY_PRUNED: 1}
    out = StringIO()
    call_command("replay_deliveries", outcomes=["failed_processing"], dry_run=True, stdout=out)
    assert "body pruned: cannot" in out.getvalue()


# ------------------------------------------------------------ delivery rows


def test_old_deliveries_are_deleted_except_queued_ones(igw_account, small_batches, now):
    _deliveries(igw_account, days_ago=181, count=5)
    queued = _deliveries(igw_account, days_ago=200, outcome=Outcome.RECEIVED, authenticated=True)
    kept = _deliveries(igw_account, days_ago=100, count=2)

    assert retention.deliveries_prune(now=now) == 5
    assert set(Delivery.objects.values_list("pk", flat=True)) == {d.pk for d in queued + kept}


def test_delivery_retention_zero_keeps_rows(igw_account, settings, now):
    settings.CALLBACKS_DELIVERY_RETENTION_DAYS = 0
    _deliveries(igw_account, days_ago=4000)
    assert retention.deliveries_prune(now=now) == 0
    assert Delivery.objects.count() == 1


# ------------------------------------------------------------ call records


def test_call_records_are_kept_for_ever_by_default(igw_account, now):
    CallRecordFactory(vendor_account=igw_account, call_at=now - timedelta(days=4000))
    assert retention.retention_prune(now=now).call_records == 0
    assert CallRecord.objects.count() == 1


def test_old_call_records_go_with_events_playbacks_and_files(
    igw_account, settings, small_batches, tmp_path, now, django_capture_on_commit_callbacks
):
    settings.CALLBACKS_CALL_RECORD_RETENTION_DAYS = 90
    settings.MEDIA_ROOT = tmp_path
    name = default_storage.save("recordings/1/old.wav", ContentFile(b"RIFF"))
    old = [  # two full batches: the last, empty one ends the run
        CallRecordFactory(vendor_account=igw_account, call_at=now - timedelta(days=91))
        for _ in range(4)
    ]
    CallRecord.objects.filter(pk=old[0].pk).update(recording_file=name)
    CallEventFactory(call_record=old[1])
    RecordingPlayback.objects.create(call_record=old[0], username="u", status_code=200)
    kept = CallRecordFactory(vendor_account=igw_account, call_at=now - timedelta(days=89))
    CallEventFactory(call_record=kept)

    with django_capture_on_commit_callbacks(execute=True):  # the file goes on commit
        result = retention.retention_prune(now=now)

    assert (result.call_records, result.events) == (4, 1)
    assert list(CallRecord.objects.values_list("pk", flat=True)) == [kept.pk]
    assert CallEvent.objects.get().call_record_id == kept.pk
    assert not RecordingPlayback.objects.exists()
    assert not default_storage.exists(name)


# ------------------------------------------------------------ rollups of pruned hours


def test_rollups_of_pruned_hours_are_never_recomputed(client, igw_account, settings, now):
    settings.CALLBACKS_CALL_RECORD_RETENTION_DAYS = 90
    old_at = now - timedelta(days=95)
    until = f"{old_at + timedelta(days=1):%Y-%m-%d}"
    for i in range(3):
        CallRecordFactory(vendor_account=igw_account, call_at=old_at, call_id=f"old-{i}")
    call_command("rebuild_rollups", since=f"{old_at:%Y-%m-%d}", until=until, stdout=StringIO())
    assert _calls(CallHourTotal.objects) == 0  # before the boundary: skipped

    settings.CALLBACKS_CALL_RECORD_RETENTION_DAYS = 0  # the figures as they were kept
    call_command("rebuild_rollups", since=f"{old_at:%Y-%m-%d}", until=until, stdout=StringIO())
    assert _calls(CallHourTotal.objects) == 3
    settings.CALLBACKS_CALL_RECORD_RETENTION_DAYS = 90

    retention.call_records_prune(now=now)
    assert not CallRecord.objects.exists()

    # A CDR for a call older than the retention arrives: the beat refresh keeps the
    # pruned hour's figures instead of replacing them with that one call.
    begin = int(old_at.timestamp())
    fields = igw_cdr(igw_account, taskid="late", beginTime=str(begin), ringTime=str(begin + 1))
    fields.update(answerTime=str(begin + 2), releaseTime=str(begin + 62))
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    rollups.rollup_refresh_recent()
    rollups.rollup_refresh(since=old_at, until=old_at + timedelta(hours=1))
    assert _calls(CallHourTotal.objects) == 3

    out = StringIO()
    call_command("rebuild_rollups", since=f"{old_at:%Y-%m-%d}", until=until, stdout=out)
    assert "are pruned (CALL_RECORD_RETENTION_DAYS)" in out.getvalue()
    assert _calls(CallHourTotal.objects) == 3


# ------------------------------------------------------------ beat


def test_the_prune_is_scheduled_on_beat_and_its_task_runs(igw_account, now):
    from callbacks import tasks

    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "callbacks.tasks.retention_prune"
    )
    assert entry["task"] in celery_app.tasks
    _deliveries(igw_account, days_ago=31)
    assert tasks.retention_prune.delay().get().startswith("1 delivery bodies emptied")


# ------------------------------------------------------------ locks


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_meets_a_lock_gives_up_and_the_next_run_resumes(igw_account, now):
    """A replay holding an old delivery's row: the prune waits at most its lock
    timeout, is logged, and takes the row on a later run."""
    import psycopg
    from django.db import connection

    (delivery,) = _deliveries(igw_account, days_ago=31)
    params = connection.get_connection_params()
    dsn = {k: params[k] for k in ("dbname", "user", "host", "port") if params.get(k)}
    with psycopg.connect(**dsn) as other:
        other.execute("SELECT 1 FROM callbacks_delivery WHERE id = %s FOR UPDATE", [delivery.pk])
        assert retention.delivery_bodies_prune(now=now) == 0
        other.rollback()
    assert retention.delivery_bodies_prune(now=now) == 1


def test_the_admin_shows_a_pruned_body(client, administrator, igw_account, now):
    (delivery,) = _deliveries(igw_account, days_ago=31)
    retention.delivery_bodies_prune(now=now)
    client.force_login(administrator)
    page = client.get(reverse("admin:callbacks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and b"pruned on" in page.content
