"""Ingest under faults: the database is the record, the broker a doorbell.

Each test runs the console's real processes (gunicorn, a Celery worker, beat) on a
PostgreSQL and a Redis of its own (tests/servers.py), so it may restart or stop them
without touching the machine's shared services.  A vendor is played by a client
that retries every CDR until it is answered 2xx, as the vendors do.

- PostgreSQL restarted (a crash: immediate stop) in the middle of 500 CDRs: every
  CDR is acknowledged in the end and stored exactly once.
- The broker (Redis) down while CDRs arrive: each is acknowledged at once, and
  normalized once the broker is back (beat's sweeper rings the worker).
- A worker killed with SIGKILL in the middle of a batch: the batch's transaction
  dies with it, and the next worker redoes it; nothing is doubled.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from urllib.parse import urlencode

import psycopg
import pytest
import requests

from tests.payloads import igw_cdr

pytestmark = pytest.mark.servers

SEED = """
import json
from accounts.models import VendorAccount
account = VendorAccount.objects.create(
    vendor="igw", name="faults", base_url="https://igw.example.com", account_id="f-dev",
    secret="f-key", app_id="f-app")
print(json.dumps({"token": account.webhook_token, "account": account.pk}))
"""
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
QUEUED = "SELECT count(*) FROM callbacks_delivery WHERE outcome = 'received' AND authenticated"


def _cdr(i: int) -> str:
    return urlencode(igw_cdr(devid="f-dev", appid="f-app", taskid=f"fault-{i:04d}"))


class Vendor:
    """Sends CDRs 0..count-1 from `senders` threads, each retried (every 50 ms, for up
    to a minute) until answered 2xx; counts the answers that were not."""

    def __init__(self, url: str, count: int, *, senders: int = 4) -> None:
        self.url, self.count = url, count
        self.acked: list[int] = []
        self.refused: Counter[str] = Counter()
        self._next = iter(range(count))
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send) for _ in range(senders)]

    def start(self) -> Vendor:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _send(self) -> None:
        session = requests.Session()
        while True:
            with self._lock:
                i = next(self._next, None)
            if i is None:
                return
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    status = session.post(self.url, data=_cdr(i), headers=FORM, timeout=10)
                    answer = str(status.status_code)
                except requests.RequestException as exc:
                    answer = type(exc).__name__
                with self._lock:
                    if answer.startswith("2"):
                        self.acked.append(i)
                        break
                    self.refused[answer] += 1
                time.sleep(0.05)


def _wait(predicate, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def ingest(own_postgres, own_redis, console_factory):
    """A fresh database on the own PostgreSQL, the console on it and the own Redis,
    an igw account; returns (console, webhook URL, sql(statement))."""
    database_url = own_postgres.create_database()
    database = database_url.rsplit("/", 1)[1]
    console = console_factory(
        database_url, own_redis.url, NORMALIZE_SWEEP_SECONDS="1", NORMALIZE_BATCH="50"
    )
    seeded = json.loads(console.manage("shell", "-c", SEED).splitlines()[-1])

    def sql(statement: str, params: tuple = ()):
        return own_postgres.sql(statement, params, database=database)

    return console, f"{console.url}/callbacks/{seeded['token']}/cdr/", sql


def _stored_once(sql, count: int) -> None:
    """Every CDR 0..count-1 is one call record; no delivery is left queued or failed."""
    records = sql("SELECT call_id, count(*) FROM callbacks_callrecord GROUP BY call_id")
    assert sorted(records) == [(f"fault-{i:04d}", 1) for i in range(count)]
    outcomes = dict(sql("SELECT outcome, count(*) FROM callbacks_delivery GROUP BY outcome"))
    assert set(outcomes) <= {"accepted", "duplicate"}, outcomes
    assert outcomes["accepted"] == count


def test_postgres_restarted_during_a_stream_of_cdrs(ingest, own_postgres):
    console, url, sql = ingest
    console.start_web()
    console.start_worker()
    console.start_beat()

    vendor = Vendor(url, 500).start()
    assert _wait(lambda: len(vendor.acked) >= 150, timeout=60), vendor.refused
    own_postgres.stop("immediate")  # a crash: clients cut off, recovery on start
    time.sleep(2)
    own_postgres.start()
    vendor.join()

    assert sorted(vendor.acked) == list(range(500)), vendor.refused
    assert vendor.refused, "the restart was not felt: nothing was refused"
    # While the database is away the console answers 503 (or cannot be reached),
    # never 500 and never 2xx for what it could not store.
    assert set(vendor.refused) <= {"503", "ConnectionError"}, vendor.refused
    assert _wait(lambda: sql(QUEUED) == [(0,)]), console.log("worker")
    _stored_once(sql, 500)
    print(f"PostgreSQL restart: 500 acknowledged and stored once; refused {dict(vendor.refused)}")


def test_broker_down_while_cdrs_arrive(ingest, own_redis):
    console, url, sql = ingest
    console.start_web()
    console.start_worker()
    console.start_beat()
    own_redis.stop()

    started = time.monotonic()
    vendor = Vendor(url, 100).start()
    vendor.join()
    elapsed = time.monotonic() - started
    assert sorted(vendor.acked) == list(range(100)) and not vendor.refused, vendor.refused
    time.sleep(1)
    assert sql(QUEUED) == [(100,)]  # acknowledged, stored, waiting for the doorbell

    own_redis.start()
    back = time.monotonic()
    assert _wait(lambda: sql(QUEUED) == [(0,)]), (console.log("worker"), console.log("beat"))
    _stored_once(sql, 100)
    print(
        f"broker down: 100 acknowledged in {elapsed:.1f} s, "
        f"normalized {time.monotonic() - back:.1f} s after it came back"
    )


def test_worker_killed_in_the_middle_of_a_batch(ingest, own_postgres):
    console, url, sql = ingest
    console.start_web()
    vendor = Vendor(url, 60).start()  # no worker yet: the doorbell rings in Redis
    vendor.join()
    assert len(vendor.acked) == 60

    # Hold back writes to the call records (a SHARE lock lets reads through): the
    # worker claims a batch and waits inside its first INSERT, before any COMMIT.
    hold = psycopg.connect(own_postgres.url(_database(sql)))
    hold.execute("LOCK TABLE callbacks_callrecord IN SHARE MODE")
    try:
        console.start_worker()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query LIKE 'INSERT INTO %%callbacks_callrecord%%'"
        )
        assert _wait(lambda: sql(waiting)[0][0] > 0), console.log("worker")
        claimed = sql(
            "SELECT count(*) FROM (SELECT id FROM callbacks_delivery WHERE outcome = "
            "'received' FOR UPDATE SKIP LOCKED) AS free"
        )
        assert claimed[0][0] <= 10  # one batch of 50 at least is held by the worker
        console.kill("worker")
    finally:
        hold.rollback()
        hold.close()

    assert sql(QUEUED) == [(60,)]  # the batch's transaction died with the worker
    killed = time.monotonic()
    console.start_worker("worker2")
    console.start_beat()  # its sweeper rings: the killed worker's message is not redelivered
    assert _wait(lambda: sql(QUEUED) == [(0,)]), console.log("worker2")
    print(f"worker killed: batch redone {time.monotonic() - killed:.1f} s after (new worker)")
    _stored_once(sql, 60)
    assert sql("SELECT count(*) FROM callbacks_delivery WHERE outcome = 'duplicate'") == [(0,)]


def _database(sql) -> str:
    return sql("SELECT current_database()")[0][0]
