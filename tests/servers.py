"""Servers of a test's own: PostgreSQL (initdb into a temporary folder), redis-server,
PgBouncer, and the console's gunicorn, Celery worker and beat on top of them.

For tests that stop, restart or kill a server (tests/callbacks/test_faults.py,
tests/test_pgbouncer.py): they must never touch the machine's shared PostgreSQL and
Redis, which other tests use at the same time.  Each server listens on 127.0.0.1 on
a port of its own (a free one, or from TEST_SERVER_PORTS="8350-8399" when a machine
gives each checkout a range) and keeps every file under a temporary folder that is
removed when it stops.

Fixtures (tests/conftest.py makes them available everywhere):
- `own_postgres` (session): one cluster with a migrated template database;
  `own_postgres.create_database()` gives a test its own copy in a fraction of a
  second.  A test may stop and start the cluster (it is the test's own).
- `own_redis` (function): a redis-server without persistence; stop()/start().
- `console_factory` (function): `console_factory(database_url, broker_url, ...)`
  returns a `Console` whose start_web()/start_worker()/start_beat() run the real
  processes; everything started is stopped at teardown.

PostgreSQL refuses to run as root: when the tests run as root the cluster is made
and run as the `postgres` user (runuser), in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATE = "ccp_template"

# The console processes' settings: production ones (DEBUG off) with throwaway keys.
CONSOLE_ENV = {
    "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
    "ENV_FILE": "",
    "SECRET_KEY": "own-servers-test-secret-key-" + "x" * 30,
    "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE=",
    "DEBUG": "0",
    "SECURE_COOKIES": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
    "SANDBOX_ENABLED": "0",
    "PYTHONPATH": str(ROOT),
    "PYTHONUNBUFFERED": "1",
}


# ------------------------------------------------------------------ ports


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_taken: set[int] = set()


def free_port() -> int:
    """A port nothing listens on: from TEST_SERVER_PORTS ("8350-8399") if set."""
    span = os.environ.get("TEST_SERVER_PORTS", "")
    if span:
        low, high = (int(p) for p in span.split("-"))
        for port in range(low, high + 1):
            if port not in _taken and _port_free(port):
                _taken.add(port)
                return port
        raise RuntimeError(f"no free port in TEST_SERVER_PORTS={span}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, step: float = 0.2) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def wait_port(port: int, *, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[:3]} exited with {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _owned_dir(prefix: str) -> Path:
    """A temporary folder the server's user owns (postgres when we are root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def stop_process(proc: subprocess.Popen | None, *, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# ------------------------------------------------------------------ PostgreSQL


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql")
    return str(found[-1])


class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder, trust auth, on its own port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = _owned_dir("ccp-pg-")
        self.data = self.dir / "data"
        self._run(
            [
                _pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        )
        # Throwaway data: no fsync (the machine does not crash under a test; a server
        # crash still loses nothing committed: the WAL is in the OS's cache).  Commits
        # stay synchronous, so a crash test cannot lose what was acknowledged.  A
        # killed client's backend notices at once (client_connection_check_interval).
        settings = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.dir}'\nfsync = off\nfull_page_writes = off\n"
            "shared_buffers = 32MB\nmax_connections = 100\n"
            "client_connection_check_interval = 1000\n"
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def _run(self, args: list[str]) -> str:
        done = subprocess.run(_as_server_user(args), capture_output=True, text=True, cwd="/")
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def _ctl(self, *args: str) -> None:
        log = self.dir / "postgres.log"
        self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", *args])

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """Stop it; "immediate" is a crash (no checkpoint, clients cut off)."""
        self._ctl("stop", "-m", mode)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, params: tuple = (), *, database: str = "postgres") -> list:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str | None = None) -> str:
        """A fresh migrated database (a copy of the template); its URL."""
        name = name or f"ccp_{time.monotonic_ns()}"
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def migrate_template(self) -> None:
        self.sql(f"CREATE DATABASE {TEMPLATE}")
        env = {**os.environ, **CONSOLE_ENV, "DATABASE_URL": self.url(TEMPLATE)}
        manage(env, "migrate", "--noinput", "-v0")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run manage.py in a subprocess with `env`; its stdout (fails loudly)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        pg.start()
        pg.migrate_template()
        yield pg
    finally:
        pg.remove()


# ------------------------------------------------------------------ Redis


class OwnRedis:
    """A redis-server without persistence on its own port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ccp-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    try:
        redis.start()
        yield redis
    finally:
        redis.remove()


# ------------------------------------------------------------------ PgBouncer


def pgbouncer_bin() -> str:
    path = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(path):
        raise RuntimeError("pgbouncer is not installed: run scripts/ensure_pgbouncer.sh")
    return path


class OwnPgBouncer:
    """PgBouncer in transaction mode in front of `postgres`, trust auth, few server
    connections (so consecutive transactions of one client do change connection)."""

    def __init__(self, postgres: OwnPostgres, *, pool_size: int = 2) -> None:
        self.port = free_port()
        self.dir = _owned_dir("ccp-pgbouncer-")
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={postgres.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            f"auth_type = trust\nauth_file = {self.dir / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            "max_client_conn = 200\nadmin_users = postgres\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
        )
        if os.geteuid() == 0:
            for name in ("users.txt", "pgbouncer.ini"):
                shutil.chown(self.dir / name, "postgres", "postgres")
        self.proc: subprocess.Popen | None = None

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            _as_server_user([pgbouncer_bin(), str(self.dir / "pgbouncer.ini")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, proc=self.proc)

    def stats(self) -> dict[str, int]:
        """SHOW STATS of its admin console, summed over databases."""
        import psycopg

        # The admin console speaks the simple query protocol only: a client-side cursor.
        url = self.url("pgbouncer")
        with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cursor = conn.execute("SHOW STATS")
            names = [c.name for c in cursor.description]
            totals: dict[str, int] = {}
            for row in cursor.fetchall():
                for name, value in zip(names, row, strict=True):
                    with contextlib.suppress(TypeError, ValueError):
                        totals[name] = totals.get(name, 0) + int(value)
            return totals

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def remove(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ the console


class Console:
    """The console's processes on a database and broker of the test's choosing."""

    def __init__(self, database_url: str, broker_url: str, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = {
            **os.environ,
            **CONSOLE_ENV,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "REDIS_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": "celery",
            "RUN_DIR": str(tmp / "run"),
            "MEDIA_ROOT": str(tmp / "media"),
            "PUBLIC_BASE_URL": self.url,
            **env,
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - the process owns it
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def start_web(self, *, threads: int = 4) -> None:
        """gunicorn (gthread, one process) on self.port."""
        args = [str(BIN / "gunicorn"), "ccp_console.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        args += ["--worker-class", "gthread", "--workers", "1", "--threads", str(threads)]
        args += ["--log-level", "warning"]
        wait_port(self.port, proc=self._spawn("web", args))

    def start_worker(self, name: str = "worker", *, concurrency: int = 2) -> subprocess.Popen:
        from ccp_console.celery import worker_argv

        args = worker_argv("celery", concurrency=concurrency, loglevel="WARNING")
        args[args.index("--hostname") + 1] = f"{name}-{self.port}@localhost"
        return self._spawn(name, args)

    def start_beat(self) -> None:
        (self.tmp / "run").mkdir(exist_ok=True)
        args = [sys.executable, "-m", "celery", "-A", "ccp_console", "beat", "--loglevel"]
        args += ["WARNING", "--schedule", str(self.tmp / "run" / "beat-schedule")]
        self._spawn("beat", args)

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (no cleanup, as a crash)."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()


@pytest.fixture
def console_factory(tmp_path) -> Iterator:
    consoles: list[Console] = []

    def make(database_url: str, broker_url: str, **env: str) -> Console:
        console = Console(database_url, broker_url, tmp_path, **env)
        consoles.append(console)
        return console

    try:
        yield make
    finally:
        for console in consoles:
            console.stop()
