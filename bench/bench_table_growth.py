"""Table growth per million CDRs: what the inbox and the call tables take on disk.

    .venv/bin/python bench/bench_table_growth.py [--calls 10000]

A throwaway database (dropped at the end) is migrated and --calls calls go through
the real pipeline in this process: each call is an igw call-start event and its CDR,
POSTed to the webhook with Django's test client (authentication, parsing, the raw
INSERT) and normalized by `deliveries_normalize_all` (CallRecord, CallEvent).  The
tables are then measured compact (live rows only: `_measure`), heap + TOAST and
indexes; then the retention job empties every body (as DELIVERY_BODY_RETENTION_DAYS
does after 30 days) and the delivery table is measured again.  Printed: bytes per
row and the extrapolation to 1,000,000 calls (2,000,000 deliveries: one event and
one CDR each), and the retention job's rows per second (bodies emptied, deliveries
and call records deleted).

A live table is larger than its compact size by the dead space autovacuum has not
yet reused (each delivery is written twice: inserted, then marked by the
normalizer) and by index pages split by random keys; plan 30% over these figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from urllib.parse import urlencode

from _support import PG, ROOT, SERVER_ENV, admin_sql

TABLES = ("callbacks_delivery", "callbacks_callrecord", "callbacks_callevent")
MILLION = 1_000_000


def _setup(database: str) -> None:
    os.environ.update({**SERVER_ENV, "DATABASE_URL": f"{PG}/{database}", "LOG_LEVEL": "ERROR"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ingest(calls: int) -> float:
    """POST an event and a CDR per call, normalize; seconds it took."""
    from django.test import Client

    from accounts.models import VendorAccount
    from callbacks.queue import deliveries_normalize_all
    from tests.payloads import igw_call_start, igw_cdr

    account = VendorAccount.objects.create(
        vendor="igw", name="growth", base_url="https://igw.example.com",
        account_id="10000000", secret="k", app_id="app-001",
    )  # fmt: skip
    client = Client(HTTP_HOST="127.0.0.1")
    base = int(time.time()) - 3600
    started = time.perf_counter()
    for i in range(calls):
        begin = base + i % 3000
        ids = {"taskid": f"growth-{i:08d}", "subid": f"sub-{i % 5000}"}
        numbers = {"caller": f"138{i % 100000:08d}", "callee": f"139{i:08d}"}
        event = igw_call_start(account, callTime=str(begin), **ids, **numbers)
        cdr = igw_cdr(
            account,
            beginTime=str(begin),
            ringTime=str(begin + 3),
            answerTime=str(begin + 8),
            releaseTime=str(begin + 8 + i % 300),
            duration=str(i % 300),
            **ids,
            **numbers,
        )
        for kind, fields in (("call-start", event), ("cdr", cdr)):
            response = client.post(
                f"/callbacks/{account.webhook_token}/{kind}/",
                data=urlencode(fields),
                content_type="application/x-www-form-urlencoded",
            )
            if response.status_code != 200:
                raise SystemExit(f"{kind} answered {response.status_code}: {response.content!r}")
        if i % 500 == 499:
            deliveries_normalize_all(budget_seconds=60)
    deliveries_normalize_all(budget_seconds=600)
    return time.perf_counter() - started


def _measure() -> dict[str, tuple[int, int, int]]:
    """{table: (rows, heap+TOAST bytes, index bytes)}, compact.

    The heap is measured on a fresh copy of the live rows: VACUUM FULL keeps the
    dead versions that any open transaction on the server may still see, so on a
    shared server its figure varies from run to run.  Indexes after VACUUM FULL
    (the body is in none of them, so pruning does not change them)."""
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM FULL ANALYZE {table}")
            cursor.execute(f"CREATE TEMP TABLE growth_copy AS SELECT * FROM {table}")
            cursor.execute(
                f"SELECT count(*), pg_table_size('growth_copy'), pg_indexes_size('{table}') "
                "FROM growth_copy"
            )
            sizes[table] = cursor.fetchone()
            cursor.execute("DROP TABLE growth_copy")
    return sizes


def _body_bytes() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT avg(octet_length(body)) FROM callbacks_delivery")
        return float(cursor.fetchone()[0] or 0)


def _print(label: str, table: str, rows: int, heap: int, index: int, calls: int) -> None:
    mib = MILLION / calls / 2**20
    print(
        f"  {label:<28} {rows:>8} rows  {heap / rows:5.0f} B/row + index {index / rows:4.0f} B/row"
        f"  -> per 1M calls: {heap * mib:6.0f} MiB + index {index * mib:5.0f} MiB"
    )


def _prune_rates(emptied: int, body_seconds: float) -> str:
    """The retention job's speed: bodies emptied, then deliveries and call records
    deleted (each with everything past its retention), rows per second."""
    from django.conf import settings
    from django.utils import timezone

    from callbacks import retention

    much_later = timezone.now() + timedelta(days=400)
    t0 = time.perf_counter()
    deleted = retention.deliveries_prune(now=much_later, budget_seconds=600)
    delivery_seconds = time.perf_counter() - t0
    settings.CALLBACKS_CALL_RECORD_RETENTION_DAYS = 1
    t0 = time.perf_counter()
    records, events = retention.call_records_prune(now=much_later, budget_seconds=600)
    record_seconds = time.perf_counter() - t0
    return (
        f"  retention job: {emptied / body_seconds:,.0f} bodies emptied/s, "
        f"{deleted / delivery_seconds:,.0f} deliveries deleted/s, "
        f"{records / record_seconds:,.0f} call records (+{events} events) deleted/s "
        f"(batches of {conf_batch()} rows)"
    )


def conf_batch() -> int:
    from callbacks import conf

    return conf.prune_batch_rows()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    database = f"ccp_bench_growth_{os.getpid()}"
    admin_sql(f'CREATE DATABASE "{database}"')
    try:
        _setup(database)
        seconds = _ingest(args.calls)
        print(
            f"table growth: {args.calls} calls (igw call-start event + CDR each) through the "
            f"webhook and the normalizer in {seconds:.0f} s; load {os.getloadavg()[0]:.1f}"
        )
        print(f"  average raw body: {_body_bytes():.0f} bytes")
        sizes = _measure()
        for table in TABLES:
            _print(table, table, *sizes[table], args.calls)

        from django.utils import timezone

        from callbacks import retention

        later = timezone.now() + timedelta(days=31)
        t0 = time.perf_counter()
        emptied = retention.delivery_bodies_prune(now=later, budget_seconds=600)
        body_seconds = time.perf_counter() - t0
        pruned = _measure()["callbacks_delivery"]
        _print(f"deliveries, bodies pruned ({emptied})", "callbacks_delivery", *pruned, args.calls)
        total = sum(h + i for _, h, i in sizes.values())
        kept = total - sum(sizes["callbacks_delivery"][1:]) + sum(pruned[1:])
        scale = MILLION / args.calls
        print(
            f"  all three tables per 1M calls: {total * scale / 2**30:.2f} GiB with bodies, "
            f"{kept * scale / 2**30:.2f} GiB once bodies are pruned"
        )
        print(_prune_rates(emptied, body_seconds))
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
