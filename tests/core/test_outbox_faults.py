"""Fault tests of the outbox (core/outbox.py) with real processes: a web process that
serves the API and the sandbox (the vendor, over real HTTP), Celery workers and beat
on a redis-server of the test's own (never the machine's shared one, which other
tests use), all on the test database.

- Redis stopped while bindings are requested: every request is answered 202, and
  once Redis is back every binding is active within 60 s, with one vendor bind each.
- A worker SIGKILLed while its binds wait on a slow vendor: a second worker takes
  them over when their lease expires (within a minute), with the same reqid, so the
  vendor holds one binding each.

The outbox's timings are shortened through the processes' environment (a 1 s
dispatch, a short lease), as a deployment would set them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ccp_console.celery import worker_argv
from privacy.models import Binding
from sandbox.models import SandboxBinding, SandboxRequest
from tests.servers import free_port, wait_for, wait_port

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "outbox-faults"

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class Stack:
    """redis-server, web, workers and beat for one test; `stop()` ends them all."""

    def __init__(self, tmp_path: Path, *, lease_seconds: int):
        from django.conf import settings

        db = settings.DATABASES["default"]
        self.tmp = tmp_path
        self.redis_port = free_port()
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        broker = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "DJANGO_SETTINGS_MODULE": "ccp_console.settings_test",
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": broker,
            "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
            "OUTBOX_DISPATCH_SECONDS": "1",
            "OUTBOX_LEASE_SECONDS": str(lease_seconds),
            "OUTBOUND_PRIVATE_ALLOWLIST": f"127.0.0.1:{self.web_port}",
            "PUBLIC_BASE_URL": self.url,
            "RUN_DIR": str(tmp_path / "run"),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def redis_start(self) -> None:
        port = str(self.redis_port)
        argv = ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", ""]
        self._start("redis", [*argv, "--appendonly", "no"])
        wait_port(self.redis_port, timeout=10)

    def redis_stop(self) -> None:
        self.end("redis")

    def web_start(self) -> None:
        argv = [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            f"127.0.0.1:{self.web_port}",
        ]
        self._start("web", argv)
        wait_port(self.web_port, timeout=30)

    def worker_start(self, name: str) -> subprocess.Popen:
        argv = worker_argv(QUEUE, concurrency=4)
        argv[argv.index("--hostname") + 1] = f"{name}@localhost"
        return self._start(name, argv)

    def beat_start(self) -> None:
        schedule = str(self.tmp / "run" / "celerybeat-schedule")
        argv = [sys.executable, "-m", "celery", "-A", "ccp_console", "beat", "-s", schedule]
        self._start("beat", [*argv, "--loglevel", "INFO"])

    def end(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        for name in [n for n in self.procs if n != "redis"] + ["redis"]:
            self.end(name)


@pytest.fixture
def stack(transactional_db, tmp_path):
    """stack(lease_seconds) -> a Stack with redis-server and web started."""
    made: list[Stack] = []

    def make(*, lease_seconds: int = 60) -> Stack:
        s = Stack(tmp_path, lease_seconds=lease_seconds)
        made.append(s)
        s.redis_start()
        s.web_start()
        return s

    yield make
    for s in made:  # before transactional_db empties the tables under them
        s.stop()


@pytest.fixture
def igw(transactional_db):
    """bind(stack, i) -> POST one AXB binding to the stack's API; returns the response."""
    from rest_framework.authtoken.models import Token

    from sandbox.services import ensure_sandbox_account
    from tests.factories import PrivacyNumberFactory, UserFactory, VendorAccountFactory

    operator = UserFactory(username="outbox-operator", roles=["Operators"], is_staff=True)
    token = Token.objects.create(user=operator).key
    state: dict = {}

    def bind(stack: Stack, i: int) -> requests.Response:
        if "account" not in state:
            account = VendorAccountFactory(vendor="igw", base_url=f"{stack.url}/sandbox/igw")
            PrivacyNumberFactory(vendor_account=account)
            state["account"] = account
            state["sandbox"] = ensure_sandbox_account(vendor_account=account)
        body = {
            "kind": "axb",
            "vendor_account": state["account"].pk,
            "a_number": f"1380000{i:04d}",
            "b_number": f"1390000{i:04d}",
            "ttl": 3600,
        }
        headers = {"Authorization": f"Token {token}"}
        return requests.post(
            f"{stack.url}/api/v1/bindings/", json=body, headers=headers, timeout=30
        )

    bind.state = state
    return bind


def binds_at_vendor() -> int:
    """AXB bind requests the sandbox received (igw §4.1: PUT .../interline/{x})."""
    return SandboxRequest.objects.filter(
        vendor="igw", method="PUT", path__contains="/interline/"
    ).count()


def all_active(ids: list[int]) -> Callable[[], bool]:
    return lambda: Binding.objects.filter(pk__in=ids, state="active").count() == len(ids)


def test_redis_stopped_while_bindings_are_requested(stack, igw):
    s = stack(lease_seconds=30)
    s.worker_start("worker1")
    s.beat_start()
    # Warm up: one binding through the doorbell, so worker and beat are known to run.
    first = igw(s, 0)
    assert first.status_code == 202, first.text
    assert wait_for(all_active([first.json()["id"]]), 60), s.log("worker1")

    s.redis_stop()
    t = time.monotonic()
    answers = [igw(s, i) for i in range(1, 21)]
    print(f"20 requests during the outage: {time.monotonic() - t:.1f} s")
    assert [a.status_code for a in answers] == [202] * 20, answers[-1].text
    ids = [a.json()["id"] for a in answers]
    time.sleep(3)  # an outage longer than the doorbell's grace: the dispatcher is needed
    assert Binding.objects.filter(pk__in=ids, state="pending").count() == 20
    assert binds_at_vendor() == 1

    back = time.monotonic()
    s.redis_start()
    assert wait_for(all_active(ids), 60), s.log("beat") + s.log("worker1")
    print(f"redis back -> 20 bindings active: {time.monotonic() - back:.1f} s")
    assert binds_at_vendor() == 21  # one vendor call each
    assert SandboxBinding.objects.count() == 21


def test_worker_killed_while_binds_wait_on_a_slow_vendor(stack, igw):
    lease = 8
    s = stack(lease_seconds=lease)
    first = s.worker_start("worker1")
    s.beat_start()
    warm = igw(s, 0)
    assert wait_for(all_active([warm.json()["id"]]), 60), s.log("worker1")
    sandbox = igw.state["sandbox"]
    sandbox.chaos_api_delay_ms = 4000  # longer than the kill below takes
    sandbox.save(update_fields=["chaos_api_delay_ms"])

    ids = [igw(s, i).json()["id"] for i in (1, 2)]
    # Both binds have started (the attempt is committed just before the vendor call).
    started = Binding.objects.filter(pk__in=ids, attempts=1)
    assert wait_for(lambda: started.count() == 2, 20), s.log("worker1")
    time.sleep(1)  # the requests are in the sandbox's 4-second sleep
    assert binds_at_vendor() == 1
    killed = time.monotonic()
    s.end("worker1", signal.SIGKILL)
    assert first.poll() is not None
    s.worker_start("worker2")
    assert wait_for(all_active(ids), 60), s.log("worker2") + s.log("beat")
    print(f"worker killed -> 2 binds taken over and active: {time.monotonic() - killed:.1f} s")
    # The vendor was asked again (same reqid) and made no second binding.
    assert binds_at_vendor() == 5
    assert SandboxBinding.objects.count() == 3
    subids = set(SandboxBinding.objects.values_list("subid", flat=True))
    assert (
        set(Binding.objects.filter(pk__in=ids).values_list("vendor_binding_id", flat=True))
        <= subids
    )
