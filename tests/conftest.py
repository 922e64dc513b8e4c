"""Fixtures shared by every test: real services, users per role, clients, a Celery worker.

The suite runs against real PostgreSQL and Redis (ccp_console/settings_test.py). If one
is unreachable the run stops at once and names it: there is no silent fallback.
"""

import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

# A test's own PostgreSQL, Redis and console processes, for tests that stop servers.
from tests.servers import console_factory, own_postgres, own_redis  # noqa: F401

# Django-dependent imports live inside the fixtures, so the Django-free vendors/ tests
# can run with `-p no:django` too.

ROOT = Path(__file__).resolve().parent.parent


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    if "DATABASE_URL" not in os.environ:  # run without pytest-django: nothing to check
        return
    checks = [
        ("PostgreSQL", os.environ["DATABASE_URL"], 5432),
        ("Redis", os.environ["CELERY_BROKER_URL"], 6379),
    ]
    down = [f"{name} at {url}" for name, url, port in checks if not _reachable(url, port)]
    if down:
        pytest.exit("Required service unreachable: " + "; ".join(down), returncode=3)


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process unless a test asks for the real worker (mark `worker`)."""
    from ccp_console.celery import app

    eager = request.node.get_closest_marker("worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """No test reads what another one cached (dashboard figures: callbacks.stats)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def live_server(live_server, settings, monkeypatch):
    """pytest-django's live server, which the sandbox tests use as the vendor: its exact
    host:port (and no other port of loopback) joins OUTBOUND_PRIVATE_ALLOWLIST, in
    this process and in the environment of worker processes started afterwards."""
    host_port = live_server.url.split("://", 1)[1]
    allowed = [*settings.OUTBOUND_PRIVATE_ALLOWLIST, host_port]
    settings.OUTBOUND_PRIVATE_ALLOWLIST = allowed
    monkeypatch.setenv("OUTBOUND_PRIVATE_ALLOWLIST", ",".join(allowed))
    return live_server


@pytest.fixture
def allow_outbound(settings, monkeypatch):
    """allow_outbound("127.0.0.1:8871"): let this test reach that exact private host:port."""

    def allow(host_port: str) -> None:
        allowed = [*settings.OUTBOUND_PRIVATE_ALLOWLIST, host_port]
        settings.OUTBOUND_PRIVATE_ALLOWLIST = allowed
        monkeypatch.setenv("OUTBOUND_PRIVATE_ALLOWLIST", ",".join(allowed))

    return allow


def _user(username: str, role: str | None = None, **fields):
    from tests.factories import UserFactory

    return UserFactory(username=username, roles=[role] if role else [], **fields)


@pytest.fixture
def operator(db):
    return _user("operator", "Operators", is_staff=True)


@pytest.fixture
def staff_user(db):
    return _user("staff", "Business staff")


@pytest.fixture
def administrator(db):
    return _user("admin", "Administrators", is_staff=True)


@pytest.fixture
def nobody(db):
    """A logged-in user with no role."""
    return _user("nobody")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _api(user=None):
    from rest_framework.test import APIClient

    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


@pytest.fixture
def api_client():
    return _api()


@pytest.fixture
def operator_api(operator):
    return _api(operator)


@pytest.fixture
def staff_api(staff_user):
    return _api(staff_user)


@pytest.fixture
def celery_worker_process(transactional_db, request):
    """A real `celery worker` process on the Redis broker, using the test database.

    Use with transactional_db (rows must be committed to be seen) and mark the test
    `worker` so tasks are sent to the broker instead of running eagerly.
    """
    from django.conf import settings

    from ccp_console.celery import app, worker_argv

    db_settings = settings.DATABASES["default"]
    database_url = (
        f"postgres://{db_settings['USER']}@{db_settings['HOST'] or '127.0.0.1'}:"
        f"{db_settings['PORT'] or 5432}/{db_settings['NAME']}"
    )
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    app.conf.task_default_queue = queue
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings_test",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    log = open(ROOT / f".worker-{queue}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        worker_argv(queue, concurrency=4),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replies = app.control.ping(destination=[f"{queue}@localhost"], timeout=0.5) or []
            if replies:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: {(ROOT / log.name).read_text()[-2000:]}")
        else:
            raise RuntimeError("celery worker did not answer a ping within 30 s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)
        app.conf.task_default_queue = "celery"
