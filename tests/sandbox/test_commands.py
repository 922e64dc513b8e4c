"""The sandbox_call and run_sandbox management commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from sandbox import services
from sandbox.models import SandboxBinding, SandboxCall
from tests.factories import VendorAccountFactory
from tests.sandbox.conftest import point_callbacks_at
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_call_command(transactional_db, capture, capsys):
    account = services.ensure_sandbox_account(vendor_account=VendorAccountFactory(vendor="igw"))
    point_callbacks_at(account, capture)
    binding, _ = services.binding_create(
        account=account, kind="axb", x_number="17000000001", a_number="138", b_number="139"
    )
    call_command(
        "sandbox_call", "--binding", binding.subid, "--outcome", "no_answer", "--duplicate"
    )
    out = capsys.readouterr().out
    assert "no_answer" in out and "(duplicate)" in out
    assert len(capture.requests) == 4
    call = SandboxCall.objects.get()
    assert call.status == "done" and call.chaos["duplicate"] is True

    with pytest.raises(CommandError, match="no active bindings"):
        call_command("sandbox_call", "--binding", "nope")
    with pytest.raises(CommandError, match="cannot express"):
        call_command("sandbox_call", "--binding", "17000000001", "--outcome", "weird")
    SandboxBinding.objects.update(state="released")
    with pytest.raises(CommandError):
        call_command("sandbox_call", "--binding", binding.subid)


def test_run_sandbox_serves_only_the_sandbox(transactional_db):
    from django.conf import settings

    db = settings.DATABASES["default"]
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", str(port), "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(f"{base}/sandbox/igw/api/v1/account/status", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 401 and response.json()["error"] == 1101
        assert requests.get(f"{base}/privacy/", timeout=5).status_code == 404
        assert requests.get(f"{base}/sandbox/", timeout=5, allow_redirects=False).status_code == 302
    finally:
        proc.terminate()
        proc.wait(timeout=10)
