"""The settings, each read in a subprocess: production safety, what the environment
sets, and the quick start's defaults (embedded broker, SQLite tuned for three processes).

Every subprocess gets ENV_FILE="" so a developer's .env (written by `make run`) cannot
change what these tests see.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "dGVzdC1rZXktZm9yLXRoZS1zdWl0ZS0zMi1ieXRlcyE="


def _check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")}
    env.update(
        {"DJANGO_SETTINGS_MODULE": "ccp_console.settings", "DEBUG": "0", "ENV_FILE": ""},
        **env_overrides,
    )
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
            "ENV_FILE": "",
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


def test_postgresql_connections_run_without_jit(db):
    """A short query with a large estimate would otherwise compile for ~40 ms."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


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


def test_env_file_names_the_file_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"SECRET_KEY={'y' * 60}\nFIELD_ENCRYPTION_KEY={KEY}\nTIME_ZONE=UTC\n")
    read = _check({"ENV_FILE": str(env_file)})
    assert read.returncode == 0, read.stderr
    assert _probe({"ENV_FILE": str(env_file), "TIME_ZONE": "Asia/Tokyo"}, "s.TIME_ZONE") == (
        "Asia/Tokyo"
    )
    # Empty: no file at all, so the keys it held are missing again.
    assert "SECRET_KEY must be set" in _check({"ENV_FILE": ""}).stderr


def _probe(env_overrides: dict, expression: str, setup: str = "pass"):
    """Evaluate `expression` (s = django.conf.settings) in a fresh process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CELERY_BROKER_URL", "DATABASE_URL", "RECORDING_DELAY_SECONDS")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ccp_console.settings",
            "ENV_FILE": "",
            "DEBUG": "1",
            **env_overrides,
        }
    )
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"{setup}; print(json.dumps({expression}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_recording_and_gap_tunables_come_from_the_environment():
    values = _probe(
        {
            "RECORDING_DELAY_SECONDS": "7",
            "RECORDING_MAX_ATTEMPTS": "3",
            "RECORDING_BACKOFF_SECONDS": "11",
            "RECORDING_LINK_LIFETIME_HOURS": "48",
            "CDR_GAP_MINUTES": "25",
            "BINDING_EXPIRE_INTERVAL_SECONDS": "5",
        },
        "[c.recording_delay_seconds(), c.recording_max_attempts(),"
        " c.recording_backoff_seconds(2), c.recording_link_lifetime_hours(),"
        " c.cdr_gap_minutes(), s.CELERY_BEAT_SCHEDULE['privacy-expire-bindings']['schedule']]",
        setup="from callbacks import conf as c",
    )
    assert values == [7, 3, 22, 48, 25, 5.0]
    defaults = _probe(
        {}, "[c.recording_delay_seconds(), c.cdr_gap_minutes()]", "from callbacks import conf as c"
    )
    assert defaults == [120, 10]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RECORDING_DELAY_SECONDS", "2m", "RECORDING_DELAY_SECONDS must be a whole number"),
        ("RECORDING_MAX_ATTEMPTS", "0", "RECORDING_MAX_ATTEMPTS must be at least 1"),
    ],
)
def test_a_bad_tunable_stops_the_start_naming_it(name, value, message):
    result = _check({"SECRET_KEY": "x" * 60, "FIELD_ENCRYPTION_KEY": KEY, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_quick_start_uses_the_embedded_broker_and_a_real_worker(tmp_path):
    """No CELERY_BROKER_URL: kombu's SQLAlchemy transport on a SQLite file in RUN_DIR,
    and tasks go to it (never run eagerly in the web process)."""
    broker, eager, schedule = _probe(
        {"RUN_DIR": str(tmp_path / "run")},
        "[app.conf.broker_url, app.conf.task_always_eager, app.conf.beat_schedule_filename]",
        setup="from ccp_console.celery import app",
    )
    assert broker == f"sqla+sqlite:///{tmp_path / 'run' / 'broker.sqlite3'}"
    assert eager is False
    assert schedule == str(tmp_path / "run" / "celerybeat-schedule")
    assert (tmp_path / "run").is_dir()
    assert _probe({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/9"}, "s.CELERY_BROKER_URL") == (
        "redis://127.0.0.1:6379/9"
    )


def test_sqlite_waits_for_the_lock_in_wal_mode(tmp_path):
    journal, options = _probe(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        "[c.cursor().execute('PRAGMA journal_mode').fetchone()[0],"
        " {k: s.DATABASES['default']['OPTIONS'][k] for k in ('timeout', 'transaction_mode')}]",
        setup="from django.db import connection as c",
    )
    assert journal == "wal"
    assert options == {"timeout": 30, "transaction_mode": "IMMEDIATE"}


def test_the_cache_is_redis_shared_with_the_worker_or_none():
    """Dashboard figures are cached where the worker's rollup refresh can invalidate
    them: REDIS_URL, else a redis:// broker; never one process's own memory."""
    cache = 's.CACHES["default"]'
    expression = f'[{cache}["BACKEND"].rsplit(".", 1)[1], {cache}.get("LOCATION")]'
    assert _probe({"REDIS_URL": ""}, expression) == ["DummyCache", None]
    broker = {"REDIS_URL": "", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9"}
    assert _probe(broker, expression) == ["RedisCache", "redis://127.0.0.1:6379/9"]
    own = {**broker, "REDIS_URL": "redis://127.0.0.1:6379/8"}
    assert _probe(own, expression) == ["RedisCache", "redis://127.0.0.1:6379/8"]
