"""Client calls per second against the sandbox, over real HTTP, for each vendor.

    python bench/bench_sandbox_clients.py [--count 200] [--seconds 15]
                                          [--concurrency 1] [--workers 2] [--threads 4]

What it needs: PostgreSQL at BENCH_PG (default postgres://postgres@127.0.0.1:5432,
trust auth, allowed to CREATE DATABASE) and the project's venv.  It creates a
throwaway database (ccp_bench_sandbox_<pid>), migrates it, seeds one sandbox
account per vendor, starts gunicorn on a free 127.0.0.1 port serving the
console with SANDBOX_ENABLED=1, runs the vendors/ clients against
http://127.0.0.1:<port>/sandbox/<vendor>, then stops gunicorn (by its own pid)
and drops the database.

Bounded: each operation stops after --count calls or --seconds, whichever comes
first; loopback only.  Every call is a full signed round trip that the sandbox
verifies, executes and journals (one SandboxRequest row each), so the figures
measure the sandbox + client stack, not a vendor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count as _count

from _support import PG, ROOT, admin_sql, free_port, start_gunicorn, stop

sys.path.insert(0, str(ROOT))

DB_NAME = f"ccp_bench_sandbox_{os.getpid()}"
CREDS = {
    # vendor: (account_id, secret, app_id)
    "ccp": ("a" * 32, "0123456789abcdef0123456789abcdef", "app-ccp"),
    "igw": ("10000000", "igw-auth-key", "app-igw"),
    "huawei": ("ZRBRz4bAXoFgEH7o4Ew308eXc1RA", "huawei-app-secret", ""),
    "cyj": ("cyjaccountsid", "cyj-token", "app-cyj"),
}
_sequence = _count(1)  # next() on itertools.count is atomic under the GIL
BASE_PATHS = {
    "ccp": "/sandbox/ccp/2013-12-26",
    "igw": "/sandbox/igw",
    "huawei": "/sandbox/huawei",
    "cyj": "/sandbox/cyj",
}


def server_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
        "DEBUG": "0",  # DEBUG keeps every SQL query in memory: not what we measure
        "SECRET_KEY": "bench-only-secret-key",
        "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktMzItYnl0ZXMtbG9uZyEhISE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SANDBOX_ENABLED": "1",
        "CELERY_BROKER_URL": "",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "SECURE_COOKIES": "0",
    }


def seed(env: dict[str, str]) -> None:
    """Migrate and create one SandboxAccount per vendor (in a child process, so
    this script never holds a connection to the database it will drop)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    rows = ", ".join(f"('{v}', '{a}', '{s}', '{app}')" for v, (a, s, app) in CREDS.items())
    code = (
        "from sandbox.models import SandboxAccount as A\n"
        f"for v, a, s, app in [{rows}]:\n"
        "    A.objects.create(vendor=v, account_id=a, secret=s, app_id=app,"
        " max_bindings_per_x=10**6)\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
    )


def operations(port: int) -> dict[str, Callable[[], Callable[[int], object]]]:
    """name -> factory of a per-thread `call(i)` (each thread its own client)."""
    from vendors import RetryPolicy, get_client

    def client(vendor: str, **extra):
        account_id, secret, app_id = CREDS[vendor]
        return get_client(
            vendor,
            base_url=f"http://127.0.0.1:{port}{BASE_PATHS[vendor]}",
            account_id=account_id,
            secret=secret,
            app_id=app_id,
            extra=extra,
            retry=RetryPolicy(max_attempts=1),
        )

    def unique(i: int) -> str:
        # Distinct parties for every call of the run, so no binding conflicts.
        return f"{next(_sequence):08d}"

    def ccp_info():
        c = client("ccp")
        return lambda i: c.account_info()

    def ccp_sms():
        c = client("ccp")
        return lambda i: c.send_template_sms(["13800000001"], "1", [str(i)])

    def ccp_sms_xml():
        c = client("ccp", format="xml")
        return lambda i: c.send_template_sms(["13800000001"], "1", [str(i)])

    def igw_status():
        c = client("igw")
        return lambda i: c.account_status()

    def igw_bind():
        c = client("igw")

        def bind(i: int):
            n = unique(i)
            return c.bind_axb(
                x_number=f"170{n}", a_number=f"138{n}", b_number=f"139{n}", reqid=f"b-{n}", ttl=600
            )

        return bind

    def huawei_verify():
        c = client("huawei")
        return lambda i: c.call_verify(
            display_number="+8675528000001",
            callee_number=f"+86138{unique(i)}",
            verify_code="1234",
            pre_tone="w.wav",
        )

    def cyj_bind():
        c = client("cyj")
        end = datetime.now(UTC) + timedelta(minutes=30)

        def bind(i: int):
            n = unique(i)
            return c.bind(caller=f"183{n}", callee=f"185{n}", end_time=end)

        return bind

    return {
        "ccp AccountInfo (JSON)": ccp_info,
        "ccp TemplateSMS (JSON)": ccp_sms,
        "ccp TemplateSMS (XML)": ccp_sms_xml,
        "igw account status": igw_status,
        "igw AXB bind": igw_bind,
        "huawei callVerify": huawei_verify,
        "cyj bind": cyj_bind,
    }


def measure(
    factory: Callable, *, count: int, seconds: float, concurrency: int
) -> tuple[int, float]:
    done = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal done
        call = factory()
        i = 0
        while time.monotonic() < deadline:
            with lock:
                if done >= count:
                    return
                done += 1
            i += 1
            try:
                call(i)
            except Exception as exc:
                errors.append(exc)
                return

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"a call failed: {errors[0]!r}")
    return done, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="calls per operation (max)")
    parser.add_argument("--seconds", type=float, default=15, help="time per operation (max)")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()

    port = free_port()
    env = server_env(port)
    admin_sql(f'CREATE DATABASE "{DB_NAME}"')
    proc = None
    try:
        seed(env)
        proc = start_gunicorn(
            env,
            port,
            workers=args.workers,
            threads=args.threads,
            ready_path="/sandbox/igw/api/v1/account/status",
            quiet=True,
        )
        print(
            f"sandbox at http://127.0.0.1:{port}/sandbox (gunicorn {args.workers}x{args.threads}), "
            f"{args.concurrency} client thread(s), ≤{args.count} calls or ≤{args.seconds:g} s each"
        )
        ops = operations(port)
        width = max(map(len, ops))
        for name, factory in ops.items():
            measure(factory, count=5, seconds=5, concurrency=1)  # warm-up: connections, caches
            done, elapsed = measure(
                factory, count=args.count, seconds=args.seconds, concurrency=args.concurrency
            )
            print(
                f"{name:<{width}}  {done / elapsed:>8.1f} calls/s  "
                f"({done} calls, {elapsed * 1000 / max(done, 1):.1f} ms each)"
            )
    finally:
        stop(proc)
        admin_sql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
