"""The call rollups (callbacks/rollups.py) stay exact: CDRs ingested through the
webhook late, twice, or after their events; the beat job; rebuild_rollups."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from callbacks import rollups
from callbacks.models import CallHourStat, CallHourTotal, CallHourX, CallRecord
from ccp_console.celery import app as celery_app
from tests.factories import CallRecordFactory, VendorAccountFactory
from tests.payloads import igw_call_start, igw_cdr, post_form

pytestmark = pytest.mark.django_db

X = "+8617012345678"


# igw §5.2 result codes of the outcomes these tests use.
RESULT = {"answered": "answered", "busy": "17", "no_answer": "19"}


def _cdr(client, account, at: datetime, call_id: str, *, result="answered", duration=60):
    begin = int(at.timestamp())
    answered = result == "answered"
    fields = igw_cdr(
        account,
        taskid=call_id,
        result=RESULT[result],
        beginTime=str(begin),
        ringTime=str(begin + 3),
        answerTime=str(begin + 8) if answered else None,
        releaseTime=str(begin + 8 + duration),
        duration=str(duration if answered else 0),
    )
    assert post_form(client, account, "cdr", fields).status_code == 200


def _stats(**filters) -> dict[tuple, tuple[int, int, int]]:
    return {
        (row.hour, row.x_number, row.outcome): (row.calls, row.answered, row.talk_seconds)
        for row in CallHourStat.objects.filter(**filters)
    }


def _total(**filters) -> dict:
    return CallHourTotal.objects.filter(**filters).aggregate(
        calls=Sum("calls"), answered=Sum("answered"), talk=Sum("talk_seconds")
    )


@pytest.fixture
def now():
    return timezone.now()


def test_refresh_groups_by_hour_x_number_and_outcome(client, igw_account, now):
    hour = rollups.hour_floor(now) - timedelta(hours=1)
    _cdr(client, igw_account, hour + timedelta(minutes=5), "a", duration=60)
    _cdr(client, igw_account, hour + timedelta(minutes=50), "b", duration=30)
    _cdr(client, igw_account, hour + timedelta(minutes=20), "c", result="busy")
    _cdr(client, igw_account, hour + timedelta(minutes=70), "d", duration=10)

    result = rollups.rollup_refresh_recent()

    assert (hour, hour + timedelta(hours=2)) in result.ranges
    assert _stats(vendor_account=igw_account) == {
        (hour, X, "answered"): (2, 2, 90),
        (hour, X, "busy"): (1, 0, 0),
        (hour + timedelta(hours=1), X, "answered"): (1, 1, 10),
    }
    assert _total(hour=hour) == {"calls": 3, "answered": 2, "talk": 90}
    by_x = CallHourX.objects.get(hour=hour)
    assert (by_x.x_number, by_x.calls, by_x.ended, by_x.answered, by_x.talk_seconds) == (
        X,
        3,
        3,
        2,
        90,
    )


def test_duplicate_cdrs_and_repeated_refreshes_count_once(client, igw_account, now):
    at = now - timedelta(minutes=10)
    for _ in range(3):
        _cdr(client, igw_account, at, "dup")
        rollups.rollup_refresh_recent()
    rollups.rollup_refresh(since=at, until=now)
    assert _total() == {"calls": 1, "answered": 1, "talk": 60}


def test_a_cdr_hours_late_is_counted_by_the_next_beat_run(client, igw_account, now):
    # Ten minutes into an hour: the late CDR a minute later stays in that hour (at
    # hh:59 it fell into the next one and the test failed).
    old = rollups.hour_floor(now) - timedelta(hours=9) + timedelta(minutes=10)
    _cdr(client, igw_account, old, "early")
    call_command("rebuild_rollups", stdout=StringIO())
    rollups.rollup_refresh_recent()  # sets the watermark
    assert _total()["calls"] == 1

    _cdr(client, igw_account, old + timedelta(minutes=1), "late", result="no_answer")
    result = rollups.rollup_refresh_recent()

    assert any(start <= old < end for start, end in result.ranges)
    assert all(
        end <= rollups.hour_floor(old) + timedelta(hours=1) for start, end in result.ranges[:-1]
    )
    assert _stats(hour=rollups.hour_floor(old)) == {
        (rollups.hour_floor(old), X, "answered"): (1, 1, 60),
        (rollups.hour_floor(old), X, "no_answer"): (1, 0, 0),
    }


def test_a_late_cdr_that_moves_the_call_to_an_earlier_hour(client, igw_account, now):
    """The call_start made the record at 05:10; its CDR, hours late, says the call
    began at 04:55: the 05:00 hour loses it, the 04:00 hour gains it."""
    start = rollups.hour_floor(now) - timedelta(hours=6) + timedelta(minutes=10)
    event = igw_call_start(igw_account, taskid="moved", callTime=str(int(start.timestamp())))
    assert post_form(client, igw_account, "call-start", event).status_code == 200
    rollups.rollup_refresh(since=start - timedelta(hours=2), until=start + timedelta(hours=1))
    rollups.rollup_refresh_recent()
    assert _stats() == {(rollups.hour_floor(start), X, ""): (1, 0, 0)}
    assert CallHourX.objects.get().ended == 0  # no CDR yet

    _cdr(client, igw_account, start - timedelta(minutes=15), "moved")
    rollups.rollup_refresh_recent()

    assert _stats() == {(rollups.hour_floor(start) - timedelta(hours=1), X, "answered"): (1, 1, 60)}


def test_records_outside_the_window_wait_for_a_change_or_a_rebuild(igw_account, now):
    """Rows written behind the normalizer's back (a restore, the generator) keep
    their updated_at: only the recent hours and rebuild_rollups see them."""
    old = now - timedelta(days=3)
    rollups.rollup_refresh_recent()
    CallRecordFactory(vendor_account=igw_account, call_at=old, x_number=X)
    CallRecord.objects.update(updated_at=now - timedelta(days=3))
    rollups.rollup_refresh_recent()
    assert not CallHourStat.objects.exists()

    call_command("rebuild_rollups", since=f"{old:%Y-%m-%d}", stdout=StringIO())
    assert _total()["calls"] == 1


def test_rebuild_command_recomputes_a_range_and_drops_stale_rows(igw_account):
    other = VendorAccountFactory(vendor="igw")
    base = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    for day in range(3):
        CallRecordFactory(vendor_account=igw_account, call_at=base + timedelta(days=day))
        CallRecordFactory(
            vendor_account=other, call_at=base + timedelta(days=day), outcome="busy", duration=0
        )
    stale = CallHourStat.objects.create(
        hour=base.replace(minute=0), vendor_account=igw_account, calls=99
    )
    out = StringIO()
    call_command("rebuild_rollups", since="2024-03-01", until="2024-03-02", stdout=out)
    call_command("rebuild_rollups", since="2024-03-01", until="2024-03-02", stdout=out)

    assert not CallHourStat.objects.filter(pk=stale.pk).exists()
    assert _total(vendor_account=igw_account) == {"calls": 2, "answered": 2, "talk": 120}
    assert _total(vendor_account=other) == {"calls": 2, "answered": 0, "talk": 0}
    assert "rebuilt" in out.getvalue().splitlines()[-1]
    call_command("rebuild_rollups", step_hours=24 * 1000, stdout=out)  # first call to now
    assert _total()["calls"] == 6


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--since", "2024-03-02", "--until", "2024-03-01"],
        ["--since", "2024-03-01\x00"],
        ["--step-hours", "0"],
    ],
)
def test_rebuild_command_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("rebuild_rollups", *args)


def test_the_refresh_is_scheduled_on_beat():
    from callbacks import tasks

    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "callbacks.tasks.rollup_refresh"
    )
    assert entry["schedule"] <= 60
    assert entry["task"] == tasks.rollup_refresh.name
    assert entry["task"] in celery_app.tasks


def test_the_beat_task_refreshes(igw_account, now):
    from callbacks import tasks

    CallRecordFactory(vendor_account=igw_account, call_at=now - timedelta(minutes=1))
    tasks.rollup_refresh.delay()  # eager in tests (tests/conftest.py)
    assert _total()["calls"] == 1
    assert rollups.rollup_last_refresh() is not None
