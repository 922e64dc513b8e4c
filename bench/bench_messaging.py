"""Sends per second (API + Celery worker + sandbox) and the send rate limiter's cost
and accuracy.

    .venv/bin/python bench/bench_messaging.py [--count 300] [--seconds 60] [--clients 8]
        [--workers 2] [--threads 4] [--concurrency 8] [--checks 2000] [--senders 8]
        [--limit 200] [--only sms,...] [--skip-e2e] [--skip-limiter]

Needs PostgreSQL at BENCH_PG and Redis at BENCH_REDIS, like bench_bindings.py (whose
helpers it reuses); everything runs on 127.0.0.1 in throwaway databases, bounded in
count and time, and is torn down at the end.

1. End to end, per kind of send (SENDS: SMS and voice codes, one `SendBench` each).
   A throwaway database is seeded with an operator (API token) and an
   account of the kind's vendor whose base_url is the sandbox of the same server,
   with no send limits. gunicorn serves the console with SANDBOX_ENABLED=1, a
   `celery worker` consumes a queue private to this run, client threads POST the
   kind's endpoint (202, pending) until --count or --seconds, and the clock stops
   when every send has settled. Printed: accepted/s and sent/s.
2. The limiter, in a throwaway database, for the Redis and the database backends:
   the cost of one check (limits.acquire on an account with a per-minute and a
   per-day limit: µs, mean/p50/p99 over --checks checks), and its accuracy: --senders
   OS processes hammer one account whose daily limit is --limit, each trying
   2 x limit / senders sends at once; printed is how many got through (must be
   exactly the limit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

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
from bench_bindings import REDIS, env_for, manage, percentile, start_worker

PID = os.getpid()


@dataclass(frozen=True)
class SendBench:
    """One kind of send for the end-to-end part."""

    name: str
    endpoint: str  # API path
    table: str  # the Send model's table
    seed: str  # `manage.py shell` code printing {"token", "account"}; {base} is the server
    body: Callable[[int, dict], dict]  # request body for the i-th send


SEED_OPERATOR = """
import json
from rest_framework.authtoken.models import Token
from accounts.models import VendorAccount
from accounts.roles import OPERATORS
from django.contrib.auth.models import Group, User
from messaging.models import SendPolicy
from sandbox.services import ensure_sandbox_account
user = User.objects.create_user("bench-operator", password="bench-pass-123")
user.groups.add(Group.objects.get(name=OPERATORS))
"""

SEED_SMS = (
    SEED_OPERATOR
    + """
account = VendorAccount.objects.create(
    vendor="ccp", name="bench-ccp", base_url="{base}/sandbox/ccp/2013-12-26",
    account_id="bench-sid", secret="bench-ccp-token", app_id="bench-app")
SendPolicy.objects.create(vendor_account=account, per_minute=0, per_day=0)
ensure_sandbox_account(vendor_account=account)
print(json.dumps({{"token": Token.objects.create(user=user).key, "account": account.pk}}))
"""
)

SEED_VOICE = (
    SEED_OPERATOR
    + """
account = VendorAccount.objects.create(
    vendor="huawei", name="bench-huawei", base_url="{base}/sandbox/huawei",
    account_id="benchAppKey0001", secret="bench-huawei-app-secret",
    extra={{"display_number": "+8675528000088"}})
SendPolicy.objects.create(vendor_account=account, per_minute=0, per_day=0, recipient_per_hour=0)
ensure_sandbox_account(vendor_account=account)
print(json.dumps({{"token": Token.objects.create(user=user).key, "account": account.pk}}))
"""
)

SENDS = [
    SendBench(
        name="sms",
        endpoint="/api/v1/sms/",
        table="messaging_message",
        seed=SEED_SMS,
        body=lambda i, seeded: {
            "vendor_account": seeded["account"],
            "to": [f"138{i:08d}"],
            "body": f"bench {i}",
        },
    ),
    SendBench(
        name="voice_code",
        endpoint="/api/v1/voice-codes/",
        table="messaging_voicecode",
        seed=SEED_VOICE,
        body=lambda i, seeded: {
            "vendor_account": seeded["account"],
            "callee_number": f"+86138{i:08d}",
            "verify_code": f"{i % 1000000:06d}",
            "pre_tone": "welcome.wav",
        },
    ),
]


# ---------------------------------------------------------------------- 1. end to end


def end_to_end(args, kind: SendBench) -> None:
    import psycopg

    db = f"ccp_bench_messaging_{kind.name}_{PID}"
    queue = f"bench-messaging-{PID}"
    port = free_port()
    env = {**env_for(db, port, queue), "REDIS_URL": REDIS}
    admin_sql(f'CREATE DATABASE "{db}"')
    server = worker = None
    try:
        manage(env, "migrate", "--verbosity", "0")
        code = kind.seed.format(base=f"http://127.0.0.1:{port}")
        seeded = json.loads(manage(env, "shell", "-c", code, capture=True).splitlines()[-1])
        server = start_gunicorn(env, port, workers=args.workers, threads=args.threads)
        worker = start_worker(env, queue, args.concurrency)
        headers = {"Authorization": f"Token {seeded['token']}"}
        started = time.perf_counter()
        accepted, errors, api_elapsed = post_concurrently(
            f"http://127.0.0.1:{port}{kind.endpoint}",
            headers=headers,
            body=lambda i: kind.body(i, seeded),
            count=args.count,
            seconds=args.seconds,
            clients=args.clients,
        )
        settled = failed = 0
        with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
            give_up = time.monotonic() + 120
            while time.monotonic() < give_up:
                settled, failed = conn.execute(
                    f"SELECT count(*) FILTER (WHERE state <> 'pending'),"
                    f" count(*) FILTER (WHERE state = 'failed') FROM {kind.table}"
                ).fetchone()
                if settled >= len(accepted):
                    break
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
        print(
            f"{kind.name} end to end: {len(accepted)} sends via API, {args.clients} clients, "
            f"gunicorn {args.workers}x{args.threads}, worker threads x{args.concurrency}"
        )
        print(f"  API accepted {len(accepted) / api_elapsed:8.1f} /s  (202 pending)")
        print(
            f"  sent         {(settled - failed) / elapsed:8.1f} /s  "
            f"({settled} settled, {failed} failed, {elapsed:.1f} s)"
        )
        if errors:
            print(f"  {len(errors)} API errors, first: {errors[0]}")
    finally:
        stop(worker)
        stop(server)
        delete_queue(REDIS, queue)
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# ---------------------------------------------------------------------- 2. limiter

SEED_LIMITER = """
import json
from accounts.models import VendorAccount
from messaging.models import SendPolicy
costly = VendorAccount.objects.create(vendor="ccp", name="cost", base_url="http://x.invalid",
    account_id="a", secret="s")
SendPolicy.objects.create(vendor_account=costly, per_minute=10**9, per_day=10**9)
hammered = VendorAccount.objects.create(vendor="ccp", name="hammer", base_url="http://x.invalid",
    account_id="b", secret="s")
SendPolicy.objects.create(vendor_account=hammered, per_minute=0, per_day={limit})
print(json.dumps({{"cost": costly.pk, "hammer": hammered.pk}}))
"""

COST = """
import json, time
from accounts.models import VendorAccount
from messaging import limits
account = VendorAccount.objects.get(pk={account})
limits.acquire(account)  # connect, load the script
timings, counters = [], []
for _ in range({checks}):
    started = time.perf_counter()
    limits.acquire(account)
    timings.append((time.perf_counter() - started) * 1e6)
# The counters alone: the account's limits read once (acquire reads its SendPolicy row).
account_limits = limits.account_limits(account)
for _ in range({checks}):
    started = time.perf_counter()
    limits.take(account_limits, 1)
    counters.append((time.perf_counter() - started) * 1e6)
print(json.dumps({{"backend": type(limits.backend()).__name__, "timings": timings,
                  "counters": counters}}))
"""

HAMMER = """
import json, time
from accounts.models import VendorAccount
from messaging import limits
account = VendorAccount.objects.get(pk={account})
time.sleep(max(0.0, {start} - time.time()))
passed = 0
for _ in range({tries}):
    try:
        limits.acquire(account)
        passed += 1
    except limits.RateLimitExceeded:
        pass
print(passed)
"""

BACKENDS = {
    "redis": {"REDIS_URL": REDIS},
    "database": {"REDIS_URL": "", "CELERY_BROKER_URL": ""},
}


def limiter(args) -> None:
    db = f"ccp_bench_messaging_limits_{PID}"
    base_env = env_for(db)
    admin_sql(f'CREATE DATABASE "{db}"')
    try:
        manage(base_env, "migrate", "--verbosity", "0")
        seed = SEED_LIMITER.format(limit=args.limit)
        seeded = json.loads(manage(base_env, "shell", "-c", seed, capture=True).splitlines()[-1])
        for name, overrides in BACKENDS.items():
            env = {**base_env, **overrides}
            _flush_counters()
            code = COST.format(account=seeded["cost"], checks=args.checks)
            result = json.loads(manage(env, "shell", "-c", code, capture=True).splitlines()[-1])
            for label, timings in (
                ("one check (policy read + counters)", result["timings"]),
                ("counters only", result["counters"]),
            ):
                print(
                    f"limiter {name} ({result['backend']}), {label}: "
                    f"mean {statistics.fmean(timings):.0f} µs, "
                    f"p50 {percentile(timings, 0.5):.0f} µs, "
                    f"p99 {percentile(timings, 0.99):.0f} µs over {len(timings)}"
                )
            _flush_counters()
            passed = _hammer(env, seeded["hammer"], args)
            print(
                f"limiter {name}: {args.senders} concurrent senders, limit {args.limit}: "
                f"{sum(passed)} got through ({passed})"
            )
            # The next backend starts from zero too (the database counters stay per db).
            manage(
                env,
                "shell",
                "-c",
                "from messaging.models import LimitWindow;LimitWindow.objects.all().delete()",
            )
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _flush_counters() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter("ccp:msglimit:*"):
        client.delete(key)


def _hammer(env: dict[str, str], account: int, args) -> list[int]:
    start = time.time() + 8  # every sender has set Django up before the start
    tries = max(1, 2 * args.limit // args.senders)
    code = HAMMER.format(account=account, start=start, tries=tries)
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.senders)
    ]
    return [int(proc.communicate(timeout=300)[0].splitlines()[-1]) for proc in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="sends through the API (max)")
    parser.add_argument("--seconds", type=float, default=60, help="time for the API part (max)")
    parser.add_argument("--clients", type=int, default=8, help="API client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=8, help="Celery worker threads")
    parser.add_argument("--checks", type=int, default=2000, help="timed limiter checks")
    parser.add_argument("--senders", type=int, default=8, help="concurrent sender processes")
    parser.add_argument("--limit", type=int, default=200, help="the hammered daily limit")
    parser.add_argument("--only", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-limiter", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    wanted = {name for name in args.only.split(",") if name}
    if not args.skip_e2e:
        for kind in SENDS:
            if not wanted or kind.name in wanted:
                end_to_end(args, kind)
    if not args.skip_limiter:
        limiter(args)


if __name__ == "__main__":
    main()
