"""Dashboard figures (callbacks/stats.py) and GET /api/v1/stats/ (callbacks/stats_api.py):
each figure beside the previous period, from the rollups only, cached until the rollups
change, numbers masked."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now as django_now

from callbacks import rollups, stats
from callbacks.models import CallRecord
from tests.factories import BindingFactory, CallRecordFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db

# 2024-03-01 00:00 in Asia/Shanghai (TIME_ZONE): the period is that day.
DAY = datetime(2024, 2, 29, 16, 0, tzinfo=UTC)
X1, X2 = "+8617000000001", "+8617000000002"


def _call(account, at, outcome="answered", duration=60, x=X1):
    CallRecordFactory(
        vendor_account=account,
        call_at=at,
        outcome=outcome,
        duration=duration if outcome == "answered" else 0,
        has_cdr=bool(outcome),
        x_number=x,
    )


@pytest.fixture
def calls(igw_account):
    """This day: 3 answered (60+120+30 s), 1 busy, 1 without CDR yet; the day
    before: 1 answered (100 s), 1 no answer.  Another account: 1 answered."""
    other = VendorAccountFactory(vendor="igw")
    _call(igw_account, DAY + timedelta(hours=1), duration=60)
    _call(igw_account, DAY + timedelta(hours=1, minutes=30), duration=120, x=X2)
    _call(igw_account, DAY + timedelta(hours=5), duration=30, x=X2)
    _call(igw_account, DAY + timedelta(hours=5), outcome="busy", x=X2)
    _call(igw_account, DAY + timedelta(hours=23, minutes=59), outcome="")
    _call(igw_account, DAY - timedelta(hours=23), duration=100)
    _call(igw_account, DAY - timedelta(hours=1), outcome="no_answer")
    _call(other, DAY + timedelta(hours=2), duration=600)
    rollups.rollup_refresh(since=DAY - timedelta(days=2), until=DAY + timedelta(days=2))
    return igw_account, other


def test_figures_beside_the_previous_period(calls):
    account, _ = calls
    board = stats.dashboard_stats(
        period=stats.Period(DAY, DAY + timedelta(days=1)), vendor_account_id=account.pk
    )
    assert board.previous_period == stats.Period(DAY - timedelta(days=1), DAY)
    now, before = board.current, board.previous
    assert (now.calls, now.ended, now.answered, now.talk_seconds) == (5, 4, 3, 210)
    assert (now.asr, now.acd, now.minutes) == (75.0, 70.0, 3.5)
    assert (before.calls, before.asr, before.acd) == (2, 50.0, 100.0)
    assert [(o.outcome, o.calls, o.previous_calls) for o in board.outcomes] == [
        ("answered", 3, 1),
        ("", 1, 0),
        ("busy", 1, 0),
        ("no_answer", 0, 1),
    ]
    assert board.outcomes[1].label == "no CDR yet"
    assert [x.x_number for x in board.busiest] == [X2, X1]
    assert (board.busiest[0].figures.calls, board.busiest[0].figures.asr) == (3, 66.7)
    assert board.busiest[1].previous.calls == 2


def test_hourly_series_aligns_the_previous_period(calls):
    board = stats.dashboard_stats(period=stats.Period(DAY, DAY + timedelta(days=1)))
    assert not board.period.by_day
    assert len(board.series) == 24
    first = board.series[1]  # labels are in TIME_ZONE
    assert (first.label, first.calls, first.answered) == ("03-01 01:00", 2, 2)
    assert (first.previous_calls, first.previous_answered) == (1, 1)  # 23 h before DAY
    assert board.series[2].calls == 1  # the other account counts when all are asked


def test_daily_series_in_the_time_zone(calls):
    board = stats.dashboard_stats(
        period=stats.Period(DAY - timedelta(days=2), DAY + timedelta(days=1))
    )
    assert board.period.by_day
    assert [(b.label, b.calls) for b in board.series] == [
        ("02-28", 0),
        ("02-29", 2),
        ("03-01", 6),
    ]


def test_reads_rollups_only(calls):
    with CaptureQueriesContext(connection) as queries:
        stats.dashboard_stats(
            period=stats.Period(DAY - timedelta(days=30), DAY + timedelta(days=1))
        )
    assert queries.captured_queries
    assert not any(CallRecord._meta.db_table in q["sql"] for q in queries.captured_queries)


# ----------------------------------------------------------------------- cache


def _read(period=stats.Period(DAY, DAY + timedelta(days=1))) -> tuple[int, int]:
    """(calls, queries) of one dashboard read."""
    with CaptureQueriesContext(connection) as queries:
        board = stats.dashboard_stats(period=period)
    return board.current.calls, len(queries.captured_queries)


def _late_cdr_refreshed(account, django_capture_on_commit_callbacks):
    _call(account, DAY + timedelta(hours=3), duration=10)
    with django_capture_on_commit_callbacks(execute=True):
        rollups.rollup_refresh(since=DAY, until=DAY + timedelta(days=1))


def test_figures_are_cached_until_the_rollups_change(calls, django_capture_on_commit_callbacks):
    calls_now, computed = _read()
    assert (calls_now, computed) == (6, 4)  # totals, busiest and their previous, refreshed_at
    assert _read() == (6, 1)  # only "figures as of" is read again
    assert _read(stats.Period(DAY, DAY + timedelta(hours=2)))[1] == 4  # another period
    _late_cdr_refreshed(calls[0], django_capture_on_commit_callbacks)
    assert _read() == (7, 4)  # a refresh gave the rollups a new version


@pytest.fixture
def redis_cache(settings):
    """The production cache (Redis), under a prefix of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-stats-{uuid.uuid4().hex}",
        }
    }


def test_the_redis_cache_is_shared_and_invalidated(
    calls, redis_cache, django_capture_on_commit_callbacks
):
    assert _read()[1] == 4
    assert _read() == (6, 1)
    _late_cdr_refreshed(calls[0], django_capture_on_commit_callbacks)
    assert _read() == (7, 4)


def test_an_unreachable_cache_costs_speed_not_answers(calls, settings, staff_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    assert _read() == (6, 4)
    assert _read() == (6, 4)
    assert staff_client.get("/calls/dashboard/", QUERY).status_code == 200


def test_period_rounds_to_whole_hours():
    start = datetime(2024, 3, 1, 10, 20, tzinfo=UTC)
    period = stats.Period.around(start, start + timedelta(minutes=10))
    assert (period.start, period.end) == (start.replace(minute=0), start.replace(minute=0, hour=11))
    assert stats.Period.around(start, start).length == timedelta(hours=1)


# ----------------------------------------------------------------------- API

URL = "/api/v1/stats/"
QUERY = {"from": "2024-03-01", "to": "2024-03-01"}


def test_api_returns_the_figures_and_masks_x_numbers(calls, staff_api):
    account, _ = calls
    response = staff_api.get(URL, {**QUERY, "vendor_account": account.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["granularity"] == "hour"
    assert body["period"]["start"] == "2024-03-01T00:00:00+08:00"
    assert body["previous_period"]["start"] == "2024-02-29T00:00:00+08:00"
    assert body["current"] == {
        "calls": 5,
        "ended": 4,
        "answered": 3,
        "talk_seconds": 210,
        "asr": 75.0,
        "acd": 70.0,
        "minutes": 3.5,
    }
    assert body["previous"]["calls"] == 2
    assert len(body["series"]) == 24
    assert [x["x_number"] for x in body["busiest_x_numbers"]] == ["170****0002", "170****0001"]
    assert X1 not in response.content.decode()
    assert body["bindings"] == {"active": 0, "expiring_soon": 0, "expiring_within_minutes": 60}


def test_api_sends_beside_the_previous_period(staff_api):
    from tests.callbacks.test_dashboard import _sends

    _sends(django_now())
    body = staff_api.get(URL, {"period": "24h"}).json()
    assert body["sends"] == {
        "sms": {"sent": 3, "failed": 1, "previous_sent": 1, "previous_failed": 0},
        "voice_codes": {"sent": 2, "failed": 0, "previous_sent": 0, "previous_failed": 2},
    }


def test_api_full_numbers_and_bindings_for_operators(calls, operator_api):
    account, _ = calls
    BindingFactory(vendor_account=account, state="active", expires_at=None)
    body = operator_api.get(URL, QUERY).json()
    assert body["current"]["calls"] == 6  # all accounts
    assert "*" not in body["busiest_x_numbers"][0]["x_number"]
    assert body["bindings"]["active"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"from": "2024-03-01\x00"},
        {"from": "2024-03-02", "to": "2024-03-01"},
        {"from": "1999-12-31"},
        {"from": "2020-01-01", "to": "2024-01-01"},
        {"period": "forever"},
        {"period": "custom"},
        {"vendor_account": "99999999999999999999999"},
        {"vendor_account": "abc"},
        {"from": "9999-12-31", "to": "9999-12-31T23:59:59Z"},
        {"from": "2101-01-01"},
    ],
)
def test_api_refuses_bad_parameters_with_400(staff_api, query):
    response = staff_api.get(URL, query)
    assert response.status_code == 400, response.content
    assert response.json()["message"] == "Validation error"


def test_api_default_period_and_permissions(staff_api, api_client, nobody):
    body = staff_api.get(URL).json()
    assert body["granularity"] == "day" and len(body["series"]) == 7
    assert api_client.get(URL).status_code in (401, 403)
    api_client.force_authenticate(nobody)
    assert api_client.get(URL).status_code == 403


def test_api_schema_documents_stats(staff_api):
    schema = staff_api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/stats/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "from",
        "to",
        "vendor_account",
        "period",
    }
    assert "examples" in operation["responses"]["200"]["content"]["application/json"]
