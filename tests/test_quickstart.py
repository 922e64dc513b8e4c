"""The quick start's processes: the Procfile under honcho (web, worker, beat) on a
temporary SQLite database and the embedded broker, as `make run` starts them.

A binding created over the API is made active by the real worker (the 202 says
pending, as in production), a 2-second binding is expired by beat, and SIGINT (what
Ctrl-C sends) stops every process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.servers import free_port, manage

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.quickstart


def quickstart_env(tmp_path: Path, port: int) -> dict[str, str]:
    """The environment `make run` gives its processes, with every file under tmp_path.
    No DATABASE_URL/CELERY_BROKER_URL from the suite: SQLite and the embedded broker."""
    drop = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "ENV_FILE": "",
            "DEBUG": "1",
            "SECRET_KEY": "quickstart-test-secret-key-" + "x" * 30,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "RUN_DIR": str(tmp_path / "run"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "HOST": "127.0.0.1",
            # The sandbox is this web process: vendor calls and downloads may reach it.
            "OUTBOUND_PRIVATE_ALLOWLIST": f"127.0.0.1:{port}",
            "BINDING_EXPIRE_INTERVAL_SECONDS": "1",
            "RECORDING_DELAY_SECONDS": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Honcho:
    """`honcho start` of the Procfile; output goes to a file so it never blocks."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BIN / "honcho"), "--env", "/dev/null", "start", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()[-3000:]
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    ready = "ready." in self.output()  # the worker's banner line
                    if ready:
                        return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"quick start did not come up:\n{self.output()[-3000:]}")

    def child_pids(self) -> dict[str, int]:
        return {
            m[0]: int(m[1]) for m in re.findall(r"(\w+)\.1 started \(pid=(\d+)\)", self.output())
        }

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._out.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: ps says so.
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return bool(state.stdout.strip()) and not state.stdout.strip().startswith("Z")


def _poll(fetch, done, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s; last: {value}")


@pytest.fixture
def quickstart(tmp_path):
    port = free_port()
    env = quickstart_env(tmp_path, port)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "seed_demo")
    token = manage(env, "drf_create_token", "operator").split()[2]
    honcho = Honcho(env, port, tmp_path / "honcho.log")
    try:
        honcho.wait_until_up()
        yield honcho, token
    finally:
        honcho.stop(signal.SIGKILL if honcho.proc.poll() is None else signal.SIGINT)


def test_web_worker_and_beat_run_together_and_ctrl_c_stops_them(quickstart):
    honcho, token = quickstart
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    accounts = api.get(f"{honcho.url}/api/v1/vendor-accounts/", timeout=10).json()["results"]
    igw = next(a["id"] for a in accounts if a["vendor"] == "igw")

    def create(ttl: int, a: str, b: str) -> dict:
        response = api.post(
            f"{honcho.url}/api/v1/bindings/",
            json={"kind": "axb", "vendor_account": igw, "a_number": a, "b_number": b, "ttl": ttl},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return response.json()

    def state(binding_id: int) -> str:
        return api.get(f"{honcho.url}/api/v1/bindings/{binding_id}/", timeout=10).json()["state"]

    # The worker, not the web process, asks the sandbox: the 202 is honest.
    long_lived = create(3600, "+8613800000011", "+8613900000011")
    assert long_lived["state"] == "pending"
    _poll(lambda: state(long_lived["id"]), lambda s: s == "active", 30, "worker bound it")

    short = create(2, "+8613800000012", "+8613900000012")
    _poll(lambda: state(short["id"]), lambda s: s == "expired", 30, "beat expired it")
    assert state(long_lived["id"]) == "active"

    pids = honcho.child_pids()
    assert set(pids) == {"web", "worker", "beat"}, honcho.output()[-2000:]
    honcho.stop(signal.SIGINT)
    _poll(
        lambda: [name for name, pid in pids.items() if _alive(pid)],
        lambda alive: not alive,
        15,
        "every process stopped",
    )
    out = honcho.output()
    assert "SIGINT received" in out
    assert "database is locked" not in out
    assert "No hostname was supplied" not in out
