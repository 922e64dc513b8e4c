"""messaging.limits: fixed windows, all-or-nothing, per-account policy, both backends."""

import pytest
from django.db import connection

from messaging import limits
from messaging.models import LimitWindow, SendPolicy
from tests.factories import VendorAccountFactory

NOW = 1_800_000_030.0  # 30 s into a minute


@pytest.fixture(params=["redis", "database"])
def backend(request, settings):
    """Run each test on both backends: Redis (this run's REDIS_URL) and the database."""
    # Redis counters start from zero: tests/messaging/conftest.py deletes them.
    if request.param == "database":
        settings.REDIS_URL = ""
        settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"
    return request.param


@pytest.fixture
def account(db):
    return VendorAccountFactory(vendor="ccp")


def test_backend_follows_settings(settings):
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "sqla+sqlite:///x.sqlite3"
    assert isinstance(limits.backend(), limits.DatabaseBackend)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/3"
    assert isinstance(limits.backend(), limits.RedisBackend)


def test_per_minute_limit_refuses_with_retry_after(backend, account):
    SendPolicy.objects.create(vendor_account=account, per_minute=3, per_day=0)
    for _ in range(3):
        limits.acquire(account, now=NOW)
    with pytest.raises(limits.RateLimitExceeded) as exc:
        limits.acquire(account, now=NOW + 1)
    assert exc.value.retry_after == 29
    assert "3 a minute" in exc.value.message
    limits.acquire(account, now=NOW + 30)  # the next minute's window


def test_counts_units_all_or_nothing(backend, account):
    SendPolicy.objects.create(vendor_account=account, per_minute=10, per_day=12)
    limits.acquire(account, 8, now=NOW)
    # 8 + 5 exceeds both windows: refused, and nothing counted.
    with pytest.raises(limits.RateLimitExceeded):
        limits.acquire(account, 5, now=NOW)
    limits.acquire(account, 2, now=NOW)  # exactly the minute's 10
    # The next minute has room, the day has 2 left: 3 is refused by the day, retry tomorrow.
    with pytest.raises(limits.RateLimitExceeded) as exc:
        limits.acquire(account, 3, now=NOW + 60)
    assert "12 a day" in exc.value.message
    assert exc.value.retry_after > 3600
    limits.acquire(account, 2, now=NOW + 60)


def test_zero_is_unlimited_and_defaults_apply(backend, account, settings):
    settings.MESSAGING_SENDS_PER_MINUTE = 2
    settings.MESSAGING_SENDS_PER_DAY = 0
    limits.acquire(account, 2, now=NOW)
    with pytest.raises(limits.RateLimitExceeded):
        limits.acquire(account, now=NOW)
    SendPolicy.objects.create(vendor_account=account, per_minute=0)
    limits.acquire(account, 1000, now=NOW)


def test_accounts_are_counted_apart(backend, account):
    other = VendorAccountFactory(vendor="ccp")
    SendPolicy.objects.create(vendor_account=account, per_minute=1)
    SendPolicy.objects.create(vendor_account=other, per_minute=1)
    limits.acquire(account, now=NOW)
    limits.acquire(other, now=NOW)
    with pytest.raises(limits.RateLimitExceeded):
        limits.acquire(account, now=NOW)


def test_recipient_cap(backend, account):
    for _ in range(5):  # the default: 5 an hour
        limits.acquire_recipient(account, "+8613800000001", now=NOW)
    with pytest.raises(limits.RateLimitExceeded) as exc:
        limits.acquire_recipient(account, "+8613800000001", now=NOW)
    assert "an hour to one number" in exc.value.message
    limits.acquire_recipient(account, "+8613800000002", now=NOW)
    SendPolicy.objects.create(vendor_account=account, recipient_per_hour=6)
    limits.acquire_recipient(account, "+8613800000001", now=NOW)


def test_a_recipient_cap_taken_with_the_account_limits_is_all_or_nothing(backend, account):
    SendPolicy.objects.create(vendor_account=account, per_minute=2, recipient_per_hour=5)
    cap = [limits.recipient_limit(account, "+8613800000001")]
    limits.acquire_with(account, 2, cap, now=NOW)
    with pytest.raises(limits.RateLimitExceeded, match="2 a minute"):
        limits.acquire_with(account, 1, cap, now=NOW)
    # The refusal by the minute counted nothing against the number's hourly cap.
    for _ in range(3):
        limits.acquire_recipient(account, "+8613800000001", now=NOW)
    with pytest.raises(limits.RateLimitExceeded, match="an hour to one number"):
        limits.acquire_recipient(account, "+8613800000001", now=NOW)


def test_database_windows_are_pruned(settings, account):
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"
    SendPolicy.objects.create(vendor_account=account, per_minute=5, per_day=5)
    limits.acquire(account, 2, now=NOW)
    assert sorted(LimitWindow.objects.values_list("count", flat=True)) == [2, 2]
    from datetime import UTC, datetime, timedelta

    assert limits.prune_windows(now=datetime.fromtimestamp(NOW, tz=UTC) + timedelta(minutes=2)) == 1
    assert connection.vendor == "postgresql"


HAMMER = """
import os, sys, time
import django
django.setup()
from accounts.models import VendorAccount
from messaging import limits
account = VendorAccount.objects.get(pk=int(sys.argv[1]))
tries = int(sys.argv[2])
limits.limits_for(account)  # warm: connections and the policy read
print("ready", flush=True)
start = float(sys.stdin.readline())  # the test sends one start time once both are ready
time.sleep(max(0.0, start - time.time()))
passed = 0
for _ in range(tries):
    time.sleep(0.001)  # paced, so the race lasts longer than any skew between the two starts
    try:
        limits.acquire(account)
        passed += 1
    except limits.RateLimitExceeded:
        pass
print(passed)
"""


def _database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend_name", ["redis", "database"])
def test_the_limit_holds_across_two_processes(backend_name):
    """Two OS processes hammer one account: exactly the limit gets through."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    account = VendorAccountFactory(vendor="ccp")
    SendPolicy.objects.create(vendor_account=account, per_minute=0, per_day=60)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings_test",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    if backend_name == "database":
        env.update(REDIS_URL="", CELERY_BROKER_URL="sqla+sqlite:///unused.sqlite3")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(account.pk), "100"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # Both set up Django and connect before either starts, however loaded the machine.
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-2000:]
    start = time.time() + 0.3
    for proc in procs:
        proc.stdin.write(f"{start}\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in results]
    passed = [int(out.strip().splitlines()[-1]) for out, _ in results]
    assert sum(passed) == 60, passed
    assert all(p > 0 for p in passed), passed  # both really competed
