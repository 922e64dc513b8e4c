"""Outbound work after faults (core/outbox.py): the broker stopped, a worker killed.

    .venv/bin/python bench/bench_outbox.py [--count 50] [--outage 20] [--killed 10]
        [--vendor-delay-ms 5000] [--dispatch 2] [--lease 45]

Needs PostgreSQL at BENCH_PG (as bench_bindings.py) and the `redis-server` binary:
the run starts a redis-server of its own on a free port (the machine's shared Redis
is never stopped). gunicorn serves the console and the sandbox (the vendor, igw over
real HTTP); a Celery worker and beat run on that Redis with OUTBOX_DISPATCH_SECONDS
and OUTBOX_LEASE_SECONDS from --dispatch and --lease (the defaults are production's).
Everything is torn down at the end (processes by pid, the database dropped).

1. Baseline: --count bindings POSTed with everything up; time to all active.
2. Broker outage: redis-server stopped, --count bindings POSTed (each answered 202,
   pending), Redis kept down --outage seconds, then started again. Printed: the
   time from its return to the last binding active, and vendor bind calls per
   binding (1.0: nothing was bound twice).
3. Killed worker: the sandbox answers after --vendor-delay-ms; --killed bindings
   POSTed, the worker SIGKILLed once all their vendor calls have started, a second
   worker started. Printed: the time from the kill to the last taken-over binding
   active (at most a lease), and vendor bindings per binding (1.0: the redo reused
   the reqid).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from subprocess import DEVNULL

import psycopg
from _support import PG, ROOT, admin_sql, free_port, post_concurrently, start_gunicorn, stop
from bench_bindings import SEED_E2E, env_for, manage

QUEUE = f"bench-outbox-{os.getpid()}"


class Redis:
    """A redis-server of this run's own, stopped and started at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*argv, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        import socket

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        stop(self.proc)
        self.proc = None


def wait_settled(conn, ids: list[int], limit: float = 300) -> tuple[float, int]:
    """Seconds until every binding in `ids` is active or failed; and how many failed."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        settled, failed = conn.execute(
            "SELECT count(*) FILTER (WHERE state IN ('active','failed')),"
            " count(*) FILTER (WHERE state = 'failed') FROM privacy_binding WHERE id = ANY(%s)",
            [ids],
        ).fetchone()
        if settled == len(ids):
            return time.monotonic() - started, failed
        time.sleep(0.05)
    raise SystemExit(f"bindings not settled within {limit} s")


def vendor_counts(conn, ids: list[int]) -> tuple[int, int]:
    """(bind requests the sandbox received, bindings it made) for these bindings' reqids."""
    reqids = [
        r for (r,) in conn.execute("SELECT reqid FROM privacy_binding WHERE id = ANY(%s)", [ids])
    ]
    made = conn.execute(
        "SELECT count(*) FROM sandbox_sandboxbinding WHERE reqid = ANY(%s)", [reqids]
    ).fetchone()[0]
    calls = sum(
        conn.execute(
            "SELECT count(*) FROM sandbox_sandboxrequest WHERE method = 'PUT' AND body LIKE %s",
            [f"%{reqid}%"],
        ).fetchone()[0]
        for reqid in reqids
    )
    return calls, made


def start_quiet_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    """A worker on this run's queue whose log (reconnection tracebacks) is not printed."""
    sys.path.insert(0, str(ROOT))
    from ccp_console.celery import worker_argv

    argv = worker_argv(QUEUE, concurrency=concurrency, loglevel="ERROR")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=DEVNULL, stderr=DEVNULL)


def run(args) -> None:
    if shutil.which("redis-server") is None:
        raise SystemExit("needs redis-server (apt-get install redis-server)")
    db = f"ccp_bench_outbox_{os.getpid()}"
    port = free_port()
    redis = Redis()
    env = env_for(db, port, QUEUE)
    env.update(
        {
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "OUTBOX_DISPATCH_SECONDS": str(args.dispatch),
            "OUTBOX_LEASE_SECONDS": str(args.lease),
            "RUN_DIR": f"/tmp/{db}",
        }
    )
    admin_sql(f'CREATE DATABASE "{db}"')
    procs: dict[str, subprocess.Popen | None] = {}
    try:
        redis.start()
        manage(env, "migrate", "--verbosity", "0")
        seed = SEED_E2E.format(base=f"http://127.0.0.1:{port}", pool=50)
        seeded = json.loads(manage(env, "shell", "-c", seed, capture=True).strip().splitlines()[-1])
        # The sandbox is this server: enough threads that slow binds never queue for one
        # (a queued bind would time out at the client and be asked again).
        procs["web"] = start_gunicorn(env, port, workers=2, threads=16, quiet=True)
        threads = max(8, args.killed)  # every killed bind in flight at once
        procs["worker"] = start_quiet_worker(env, threads)
        beat = [sys.executable, "-m", "celery", "-A", "ccp_console", "beat", "-s", f"/tmp/{db}/b"]
        procs["beat"] = subprocess.Popen(beat, cwd=ROOT, env=env, stdout=DEVNULL, stderr=DEVNULL)
        url = f"http://127.0.0.1:{port}/api/v1/bindings/"
        headers = {"Authorization": f"Token {seeded['token']}"}
        serial = iter(range(10**6))

        def post(count: int) -> list[int]:
            first = next(serial) * 1000

            def body(i: int) -> dict:
                n = first + i
                return {
                    "kind": "axb",
                    "vendor_account": seeded["account"],
                    "a_number": f"138{n:08d}",
                    "b_number": f"139{n:08d}",
                    "ttl": 3600,
                }

            ids, errors, elapsed = post_concurrently(
                url, headers=headers, body=body, count=count, seconds=120, clients=4
            )
            if errors or len(ids) != count:
                raise SystemExit(f"API: {len(ids)} of {count} accepted; {errors[:1]}")
            print(f"  {count} POSTs answered 202 in {elapsed:.2f} s")
            return ids

        with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
            print(f"1. baseline: {args.count} bindings, everything up")
            ids = post(args.count)
            took, failed = wait_settled(conn, ids)
            print(f"  all active {took:.1f} s after the last 202 ({failed} failed)")

            print(f"2. Redis stopped, {args.count} bindings requested, back after {args.outage} s")
            redis.stop()
            down = time.monotonic()
            ids = post(args.count)
            time.sleep(max(args.outage - (time.monotonic() - down), 0))
            redis.start()
            took, failed = wait_settled(conn, ids)
            calls, made = vendor_counts(conn, ids)
            print(f"  broker back -> last binding active: {took:.1f} s ({failed} failed)")
            print(f"  vendor bind calls per binding {calls / len(ids):.2f}, made {made}/{len(ids)}")

            delay = args.vendor_delay_ms / 1000
            print(f"3. worker SIGKILLed with {args.killed} binds at a {delay:.1f} s vendor")
            conn.execute(
                "UPDATE sandbox_sandboxaccount SET chaos_api_delay_ms = %s", [args.vendor_delay_ms]
            )
            ids = post(args.killed)
            while conn.execute(
                "SELECT count(*) FROM privacy_binding WHERE id = ANY(%s) AND attempts >= 1", [ids]
            ).fetchone()[0] < len(ids):
                time.sleep(0.05)
            time.sleep(0.5)  # the requests are in the sandbox's sleep
            killed = time.monotonic()
            procs["worker"].send_signal(signal.SIGKILL)
            procs["worker"].wait()
            procs["worker"] = start_quiet_worker(env, threads)
            _, failed = wait_settled(conn, ids)
            took = time.monotonic() - killed
            calls, made = vendor_counts(conn, ids)
            print(f"  kill -> last taken-over binding active: {took:.1f} s ({failed} failed)")
            print(f"  (lease {args.lease} s, vendor delay {delay:.1f} s)")
            print(f"  vendor bind calls per binding {calls / len(ids):.2f}, made {made}/{len(ids)}")
    finally:
        for proc in procs.values():
            stop(proc)
        redis.stop()
        admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(f"/tmp/{db}", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--outage", type=float, default=20)
    parser.add_argument("--killed", type=int, default=10)
    parser.add_argument("--vendor-delay-ms", type=int, default=5000)
    parser.add_argument("--dispatch", type=int, default=2)
    parser.add_argument("--lease", type=int, default=45)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
