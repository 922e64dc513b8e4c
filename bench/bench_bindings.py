"""Binding creations per second (API + Celery worker + sandbox) and X-allocation latency.

    .venv/bin/python bench/bench_bindings.py [--count 300] [--seconds 60] [--clients 8]
        [--workers 2] [--threads 4] [--concurrency 8] [--pool 10000] [--active 100000]
        [--allocations 300] [--skip-e2e] [--skip-allocation]

Needs PostgreSQL at BENCH_PG (default postgres://postgres@127.0.0.1:5432, trust auth,
allowed to CREATE DATABASE) and Redis at BENCH_REDIS (default
redis://127.0.0.1:6379/13). Everything runs on 127.0.0.1, bounded in count and time,
and is torn down at the end (processes by their own pid, the database dropped, the
Celery queue deleted).

1. End to end. A throwaway database is migrated and seeded with an operator (API
   token) and an igw account whose base_url is the sandbox of the same server.
   gunicorn serves the console with SANDBOX_ENABLED=1; a `celery worker` (threads
   pool) consumes a queue private to this run. Client threads POST
   /api/v1/bindings/ (202, pending) with distinct A/B numbers until --count or
   --seconds; the clock stops when every binding is active or failed. Printed:
   accepted/s (API answers) and created/s (pending -> active, vendor call included).
2. Allocation. In a second throwaway database: a pool of --pool X numbers and
   --active active bindings bulk-inserted, ANALYZEd; then --allocations
   `binding_create` calls (allocation of the least-loaded X, row lock, insert) are
   timed one at a time and from --concurrency threads, and the allocation step
   alone (its query and lock, rolled back). Printed: p50/p99 in ms. No vendor call:
   the bind task is not sent in this part.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from _support import (
    PG,
    ROOT,
    admin_sql,
    delete_queue,
    free_port,
    post_concurrently,
    start_gunicorn,
    stop,
)

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
PID = os.getpid()


def env_for(db_name: str, port: int = 0, queue: str = "") -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
        "DATABASE_URL": f"{PG}/{db_name}",
        "DEBUG": "0",  # DEBUG keeps every query in memory: not what we measure
        "SECRET_KEY": "bench-only-secret-key",
        "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktMzItYnl0ZXMtbG9uZyEhISE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SANDBOX_ENABLED": "1",
        "CELERY_BROKER_URL": REDIS if queue else "",
        "CELERY_TASK_DEFAULT_QUEUE": queue or "celery",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port or 8000}",
        # The worker calls the sandbox on this very server: allow exactly its host:port.
        "OUTBOUND_PRIVATE_ALLOWLIST": f"127.0.0.1:{port}" if port else "",
        "LOG_LEVEL": "WARNING",
        "SECURE_COOKIES": "0",
        "PYTHONPATH": str(ROOT),
    }


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return done.stdout or ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------- 1. end to end

SEED_E2E = """
import json
from rest_framework.authtoken.models import Token
from accounts.models import PrivacyNumber, VendorAccount
from accounts.roles import OPERATORS
from django.contrib.auth.models import Group, User
from sandbox.services import ensure_sandbox_account
from sandbox.models import SandboxAccount
user = User.objects.create_user("bench-operator", password="bench-pass-123")
user.groups.add(Group.objects.get(name=OPERATORS))
account = VendorAccount.objects.create(
    vendor="igw", name="bench-igw", base_url="{base}/sandbox/igw", account_id="bench-dev",
    secret="bench-igw-key", app_id="bench-app", extra={{"max_bindings_per_x": 1000}})
PrivacyNumber.objects.bulk_create(
    [PrivacyNumber(number=f"+86171{{i:08d}}", vendor_account=account, area_code="010")
     for i in range({pool})])
ensure_sandbox_account(vendor_account=account)
SandboxAccount.objects.filter(account_id="bench-dev").update(max_bindings_per_x=10**6)
print(json.dumps({{"token": Token.objects.create(user=user).key, "account": account.pk}}))
"""


def start_worker(env, queue: str, concurrency: int) -> subprocess.Popen:
    sys.path.insert(0, str(ROOT))
    from ccp_console.celery import worker_argv

    return subprocess.Popen(
        worker_argv(queue, concurrency=concurrency, loglevel="WARNING"),
        cwd=ROOT,
        env=env,
    )


def end_to_end(args) -> None:
    import psycopg

    db = f"ccp_bench_bindings_e2e_{PID}"
    queue = f"bench-bindings-{PID}"
    port = free_port()
    env = env_for(db, port, queue)
    admin_sql(f'CREATE DATABASE "{db}"')
    server = worker = None
    try:
        manage(env, "migrate", "--verbosity", "0")
        seeded = json.loads(
            manage(
                env,
                "shell",
                "-c",
                SEED_E2E.format(base=f"http://127.0.0.1:{port}", pool=max(args.count // 10, 50)),
                capture=True,
            )
            .strip()
            .splitlines()[-1]
        )
        server = start_gunicorn(env, port, workers=args.workers, threads=args.threads)
        worker = start_worker(env, queue, args.concurrency)
        url = f"http://127.0.0.1:{port}/api/v1/bindings/"
        headers = {"Authorization": f"Token {seeded['token']}"}
        deadline = time.monotonic() + args.seconds

        def body(i: int) -> dict:
            return {
                "kind": "axb",
                "vendor_account": seeded["account"],
                "a_number": f"138{i:08d}",
                "b_number": f"139{i:08d}",
                "ttl": 3600,
            }

        started = time.perf_counter()
        accepted, errors, api_elapsed = post_concurrently(
            url,
            headers=headers,
            body=body,
            count=args.count,
            seconds=args.seconds,
            clients=args.clients,
        )
        settled = 0
        with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
            while time.monotonic() < deadline + 60:
                settled, failed = conn.execute(
                    "SELECT count(*) FILTER (WHERE state IN ('active','failed')),"
                    " count(*) FILTER (WHERE state = 'failed') FROM privacy_binding"
                ).fetchone()
                if settled >= len(accepted):
                    break
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
        print(
            f"end to end: {len(accepted)} bindings via API, {args.clients} clients, "
            f"gunicorn {args.workers}x{args.threads}, worker threads x{args.concurrency}"
        )
        print(f"  API accepted     {len(accepted) / api_elapsed:8.1f} /s  (202 pending)")
        print(
            f"  created (active) {settled / elapsed:8.1f} /s  "
            f"({settled} settled, {failed} failed, {elapsed:.1f} s)"
        )
        if errors:
            print(f"  {len(errors)} API errors, first: {errors[0]}")
    finally:
        stop(worker)
        stop(server)
        delete_queue(REDIS, queue)
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# ---------------------------------------------------------------------- 2. allocation


def allocation_child(args) -> None:
    """Runs inside `manage.py shell` of the allocation database (Django set up)."""
    from django.db import connection, transaction
    from django.db.models import Q

    from accounts.models import PrivacyNumber, VendorAccount
    from privacy import allocation, creation, rules, services, validation
    from privacy.models import Binding

    creation.outbox_add = lambda *a, **k: None  # no vendor call in this part
    account = VendorAccount.objects.create(
        vendor="igw",
        name="bench-alloc",
        base_url="http://127.0.0.1:9/unused",
        account_id="bench",
        secret="bench",
        app_id="bench",
    )
    started = time.perf_counter()
    PrivacyNumber.objects.bulk_create(
        [
            PrivacyNumber(
                number=f"+86171{i:08d}", vendor_account=account, area_code=random.choice(AREAS)
            )
            for i in range(args.pool)
        ],
        batch_size=5000,
    )
    xs = list(PrivacyNumber.objects.values_list("pk", flat=True))
    batch: list[Binding] = []
    for i in range(args.active):
        # Spread unevenly (some Xs busier), like a real pool; A/B unique per X.
        x = xs[int(len(xs) * random.random() ** 1.5)]
        batch.append(
            Binding(
                kind="axb",
                vendor_account=account,
                x_number_id=x,
                a_number=f"+86138{i:08d}",
                b_number=f"+86139{i:08d}",
                ttl=3600,
                display="0,0",
                state="active",
                vendor_binding_id=f"s{i}",
            )
        )
        if len(batch) == 10000:
            Binding.objects.bulk_create(batch)
            batch = []
    Binding.objects.bulk_create(batch)
    # Rows inserted behind the services' back: rebuild the allocator's load hint.
    services.xload_sync(vendor_account=account)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_privacynumber")
        cursor.execute("ANALYZE privacy_binding")
        cursor.execute("ANALYZE privacy_xload")
    print(
        f"allocation: pool {args.pool} X numbers, {args.active} active bindings "
        f"(inserted in {time.perf_counter() - started:.1f} s), cap "
        f"{rules.max_bindings_per_x(account)} per X"
    )

    def new_request(i: int) -> dict:
        return {
            "kind": "axb",
            "vendor_account": account,
            "a_number": f"137{i:08d}",
            "b_number": f"136{i:08d}",
            "ttl": 600,
        }

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1000

    # The allocation step alone: its query and row lock, rolled back.
    req = validation.clean_request(
        **{
            **new_request(0),
            "x_number": None,
            "area_code": "",
            "record": False,
            "display": "",
            "direct": None,
            "anucode": "",
            "ansanu": "",
            "user_data": "",
        }
    )

    def allocate_once() -> None:
        with transaction.atomic():
            allocation.allocate(req, rules.max_bindings_per_x(account), set())
            transaction.set_rollback(True)

    for _ in range(5):
        allocate_once()  # warm-up
    alloc = [timed(allocate_once) for _ in range(args.allocations)]
    report("allocation step (query + lock)", alloc)

    serial = [
        timed(lambda i=i: services.binding_create(**new_request(i)))
        for i in range(args.allocations)
    ]
    report("binding_create, one at a time", serial)

    offset = args.allocations
    latencies: list[float] = []
    lock = threading.Lock()
    numbers = iter(range(offset, offset + args.allocations))

    def run() -> None:
        try:
            while True:
                with lock:
                    i = next(numbers, None)
                if i is None:
                    return
                ms = timed(lambda i=i: services.binding_create(**new_request(i)))
                with lock:
                    latencies.append(ms)
        finally:
            connection.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    report(f"binding_create, {args.concurrency} threads", latencies)
    print(f"  {len(latencies) / wall:.1f} allocations/s with {args.concurrency} threads")
    live = Binding.objects.filter(state__in=Binding.LIVE_STATES)
    clash = live.values("x_number", "a_number").order_by().distinct().count() != live.count()
    print(f"  duplicate (X, A) pairs: {'YES — BUG' if clash else 'none'}")
    assert not Binding.objects.filter(Q(a_number="") | Q(x_number=None)).exists()


AREAS = ["010", "021", "020", "0755", "028"]


def report(label: str, values: list[float]) -> None:
    print(
        f"  {label:<36} p50 {statistics.median(values):7.2f} ms   "
        f"p99 {percentile(values, 0.99):7.2f} ms   (n={len(values)})"
    )


def allocation(args) -> None:
    db = f"ccp_bench_bindings_alloc_{PID}"
    env = env_for(db)
    admin_sql(f'CREATE DATABASE "{db}"')
    try:
        manage(env, "migrate", "--verbosity", "0")
        argv = json.dumps(vars(args))
        code = (
            "import sys, json, argparse; sys.path.insert(0, 'bench'); import bench_bindings as b; "
            f"b.allocation_child(argparse.Namespace(**json.loads({argv!r})))"
        )
        manage(env, "shell", "-c", code)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="bindings through the API (max)")
    parser.add_argument("--seconds", type=float, default=60, help="time for the API part (max)")
    parser.add_argument("--clients", type=int, default=8, help="API client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=8, help="worker / allocation threads")
    parser.add_argument("--pool", type=int, default=10_000, help="X numbers (allocation part)")
    parser.add_argument("--active", type=int, default=100_000, help="active bindings (idem)")
    parser.add_argument("--allocations", type=int, default=300, help="timed allocations")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-allocation", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    if not args.skip_e2e:
        end_to_end(args)
    if not args.skip_allocation:
        allocation(args)


if __name__ == "__main__":
    main()
