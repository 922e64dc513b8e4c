"""Production safety of the settings: checked in a subprocess with a clean environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")}
    env.update({"DJANGO_SETTINGS_MODULE": "ccp_console.settings", "DEBUG": "0"}, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "CRITICAL"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key():
    result = _check({"FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE="})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_refuses_to_start_without_encryption_key():
    result = _check({"SECRET_KEY": "x" * 60})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be set" in result.stderr


def test_starts_with_both_keys_and_secure_cookies():
    result = _check(
        {
            "SECRET_KEY": "x" * 60,
            "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE=",
        }
    )
    assert result.returncode == 0, result.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; import django; django.setup();"
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG)",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
            "DEBUG": "0",
            "SECRET_KEY": "x" * 60,
            "SECURE_COOKIES": "1",
            "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE=",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split() == ["True", "True", "False"], probe.stderr


def test_health_check_answers(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


KEYS = {
    "SECRET_KEY": "x" * 60,
    "FIELD_ENCRYPTION_KEY": "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE=",
}


def test_private_allowlist_takes_exact_host_ports():
    result = _check(
        {**KEYS, "OUTBOUND_PRIVATE_ALLOWLIST": "127.0.0.1:8000, localhost:8000,[::1]:8000"}
    )
    assert result.returncode == 0, result.stderr


def test_private_allowlist_refuses_a_whole_host():
    result = _check({**KEYS, "OUTBOUND_PRIVATE_ALLOWLIST": "127.0.0.1:8000,10.0.0.5"})
    assert result.returncode != 0
    assert "OUTBOUND_PRIVATE_ALLOWLIST: '10.0.0.5' is not host:port" in result.stderr


def test_quick_start_env_allows_exactly_its_own_sandbox():
    out = subprocess.run(
        [sys.executable, "scripts/write_dev_env.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "PUBLIC_BASE_URL=http://127.0.0.1:8000\n" in out
    assert "OUTBOUND_PRIVATE_ALLOWLIST=127.0.0.1:8000,localhost:8000\n" in out
