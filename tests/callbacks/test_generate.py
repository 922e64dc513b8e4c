"""manage.py generate_call_records (callbacks/generate.py): realistic shapes, made
by PostgreSQL from Python's shapes (or by Python alone elsewhere) with ids in call-time
order that the table's sequence continues from, and the large-load path that drops and
rebuilds indexes leaves the schema as it found it."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from callbacks import generate
from callbacks.models import CallEvent, CallRecord
from core.phones import normalize_number
from tests.factories import CallRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _run(**options) -> str:
    out = StringIO()
    call_command("generate_call_records", stdout=out, **options)
    return out.getvalue()


def test_two_thousand_calls_look_like_traffic():
    out = _run(count=2000, days=7, accounts=3, seed=4, events_share=0.3)
    assert "Generated 2,000 call records" in out and "rebuilding the rollups" in out
    from callbacks.models import CallHourTotal

    assert CallHourTotal.objects.exists()  # the dashboards can read what was loaded
    calls = CallRecord.objects.all()
    assert calls.count() == 2000
    outcomes = Counter(calls.values_list("outcome", flat=True))
    assert 0.55 < outcomes["answered"] / 2000 < 0.7 and len(outcomes) >= 8
    answered = calls.filter(outcome="answered")
    assert not answered.filter(duration=0).exists()
    assert not calls.exclude(outcome="answered").exclude(duration=0).exists()
    assert all(c.ring_at < c.answer_at < c.release_at for c in answered[:100])
    # Calls follow the day: the busiest local hour carries several times the quietest.
    from django.utils import timezone

    hours = Counter(timezone.localtime(t).hour for t in calls.values_list("call_at", flat=True))
    assert hours.most_common(1)[0][1] > 5 * min(hours.get(h, 0) for h in (2, 3, 4))
    # Numbers are valid E.164; most calls of binding vendors ride on a binding.
    sample = calls.values_list("caller", "callee", "x_number")[:200]
    assert all(normalize_number(n) == n for row in sample for n in row)
    assert calls.filter(binding__isnull=False).exists()
    assert CallEvent.objects.filter(kind="answer").count() > 100
    recorded = calls.filter(recording_status="downloaded")
    assert recorded.exists() and all(r.has_recording for r in recorded)
    # Raw codes are the vendors' own, with their meaning.
    assert calls.exclude(raw_code="").exclude(raw_text="").exists()


def test_ids_follow_call_time_and_events_follow_their_call():
    _run(count=3000, days=3, accounts=2, seed=5, events_share=0.5)
    times = list(CallRecord.objects.order_by("pk").values_list("call_at", flat=True))
    assert times == sorted(times)  # the list's call-time index reads the heap in order
    events = CallEvent.objects.select_related("call_record")
    assert 0.3 < events.values("call_record").distinct().count() / 3000 < 0.7
    for event in events.filter(kind="disconnect")[:50]:
        call = event.call_record
        assert event.occurred_at == call.release_at and event.state_code == call.raw_code
        assert call.has_cdr and event.received_at > event.occurred_at
    # Callers off a binding come back: fewer distinct callers than calls.
    off = CallRecord.objects.filter(binding__isnull=True)
    assert off.values("caller").distinct().count() < off.count()


def test_the_python_path_makes_the_same_kind_of_rows(monkeypatch):
    monkeypatch.setattr(generate, "server_side", lambda: False)  # as on SQLite
    monkeypatch.setattr(generate, "PYTHON_CHUNK", 300)
    out = _run(count=1000, days=2, accounts=2, seed=6, events_share=0.5)
    assert "Generated 1,000 call records" in out and "600 call records" in out  # in chunks
    ids = list(CallRecord.objects.order_by("pk").values_list("pk", flat=True))
    assert ids == list(range(ids[0], ids[0] + 1000))
    calls = CallRecord.objects.all()
    assert 0.5 < calls.filter(outcome="answered").count() / 1000 < 0.75
    assert CallEvent.objects.filter(kind="answer").exists()
    times = list(calls.order_by("pk").values_list("call_at", flat=True))
    assert times == sorted(times)


def test_ids_continue_and_new_rows_still_insert(igw_account):
    before = CallRecordFactory(vendor_account=igw_account)
    _run(count=300, accounts=1, seed=1)
    ids = sorted(CallRecord.objects.exclude(pk=before.pk).values_list("pk", flat=True))
    assert ids == list(range(before.pk + 1, before.pk + 301))
    after = CallRecordFactory(vendor_account=igw_account)  # the sequence moved past them
    assert after.pk > ids[-1]


def _schema() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) UNION "
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s)",
            [list(generate.TABLES), list(generate.TABLES)],
        )
        return set(cursor.fetchall())


def test_the_large_load_path_rebuilds_every_index_and_key(monkeypatch):
    schema = _schema()
    assert any("gin_trgm_ops" in definition for _, definition in schema)
    monkeypatch.setattr(generate, "BARE_LOAD_THRESHOLD", 1)
    out = _run(count=200, accounts=1, seed=2)
    assert "rebuilding index callbacks_record_numbers_trgm" in out
    assert _schema() == schema


@pytest.mark.parametrize(
    "options", [{"count": 0}, {"count": 10, "days": 0}, {"count": 10, "events_share": 2.0}]
)
def test_nonsense_options_are_refused(options):
    with pytest.raises(CommandError):
        _run(**options)
