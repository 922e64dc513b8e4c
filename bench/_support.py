"""Plumbing shared by the benchmarks: ports, throwaway databases, gunicorn.

Everything runs on 127.0.0.1; each benchmark creates its own PostgreSQL database
and drops it at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")

# What a console process under benchmark runs with: production settings (DEBUG off),
# throwaway keys, no sandbox. No CELERY_BROKER_URL: a web process that enqueues falls
# back on the embedded broker file, which these benchmarks never drain.
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
    "SECRET_KEY": "bench-only-secret-key",
    "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktMzItYnl0ZXMtbG9uZy0hISE=",
    "DEBUG": "0",
    "SECURE_COOKIES": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "ERROR",
    "CELERY_BROKER_URL": "",
    "SANDBOX_ENABLED": "0",
    "PYTHONPATH": str(ROOT),
}


def server_env(database: str, **overrides: str) -> dict[str, str]:
    """The environment for a console process on the throwaway `database`."""
    return {**os.environ, **SERVER_ENV, "DATABASE_URL": f"{PG}/{database}", **overrides}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_sql(statement: str) -> None:
    """Run a statement on the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def start_gunicorn(
    env: dict[str, str],
    port: int,
    *,
    workers: int,
    threads: int,
    app: str = "ccp_console.wsgi",
    ready_path: str = "/healthz",
    quiet: bool = False,
) -> subprocess.Popen:
    """Start gunicorn (gthread) on 127.0.0.1:`port` and wait until `ready_path`
    answers anything at all (a 401 from a signed endpoint proves it is up)."""
    import requests

    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5)
            return proc
        except requests.RequestException:  # still starting
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"gunicorn did not answer {ready_path} within 30 s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def post_concurrently(
    url: str, *, headers: dict, body, count: int, seconds: float, clients: int
) -> tuple[list[int], list[str], float]:
    """POST `body(i)` for i = 0 .. count-1 from `clients` threads until done or `seconds`
    pass. Returns the ids of the 202 answers, the other answers (status and start of
    the text), and the seconds it took."""
    import threading

    import requests

    counter = iter(range(10**9))
    lock = threading.Lock()
    accepted: list[int] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                i = next(counter)
                if i >= count:
                    return
            response = session.post(url, json=body(i), headers=headers, timeout=30)
            with lock:
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return accepted, errors, time.perf_counter() - started


def delete_queue(redis_url: str, queue: str) -> None:
    """Delete a run's private Celery queue from Redis (a tiny key; say so if it fails)."""
    try:
        import redis

        redis.Redis.from_url(redis_url).delete(queue)
    except Exception as exc:
        print(f"  (could not delete the Redis queue {queue}: {exc})")
