"""The console through PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer).

Web (gunicorn, also playing the vendor: the sandbox), worker and a management shell
all reach PostgreSQL through a PgBouncer of the test's own with two server
connections, so consecutive transactions of one client land on either: anything
kept in a session between transactions (a WITH HOLD cursor, a plain SET, an
advisory lock, a prepared statement) would fail or leak.  Key paths: a binding
created over the API and bound by the worker, CDRs acknowledged by the webhook and
normalized by the worker, a CSV export and a queryset iterator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
import requests

from tests.payloads import igw_cdr
from tests.servers import CONSOLE_ENV, ROOT, OwnPgBouncer, manage

pytestmark = pytest.mark.servers

SEED = """
import json
from rest_framework.authtoken.models import Token
from accounts.models import PrivacyNumber, VendorAccount
from accounts.roles import OPERATORS
from django.contrib.auth.models import Group, User
from sandbox.services import ensure_sandbox_account
user = User.objects.create_user("pgb-operator", password="pgb-pass-123")
user.groups.add(Group.objects.get(name=OPERATORS))
account = VendorAccount.objects.create(
    vendor="igw", name="pgb-igw", base_url="{base}/sandbox/igw", account_id="pgb-dev",
    secret="pgb-igw-key", app_id="pgb-app")
PrivacyNumber.objects.bulk_create(
    [PrivacyNumber(number=f"+86171{{i:08d}}", vendor_account=account, area_code="010")
     for i in range(5)])
ensure_sandbox_account(vendor_account=account)
print(json.dumps({{"token": Token.objects.create(user=user).key, "account": account.pk,
                  "webhook": account.webhook_token}}))
"""

EXPORT = """
import json
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from callbacks import services
from callbacks.models import Delivery
# Batches of 3: every next batch is read ahead in psycopg's pipeline mode.
settings.CALLBACKS_EXPORT_BATCH_ROWS = 3
export = services.export_start(user=User.objects.get(username="pgb-operator"), filters={})
lines = "".join(services.export_stream(export=export)).splitlines()
export.refresh_from_db()
iterated = sum(1 for _ in Delivery.objects.only("id").iterator(chunk_size=3))
print(json.dumps({"lines": len(lines), "status": export.status, "iterated": iterated,
                  "no_server_cursors": connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"]}))
"""


# A queryset iterator while another client holds the server connection the
# iterator's cursor was declared on: PgBouncer gives the next FETCH another one.
HOP = """
import json
import psycopg
from accounts.models import VendorAccount
VendorAccount.objects.bulk_create([VendorAccount(
    vendor="igw", name=f"hop-{i}", base_url="https://igw.example.com", account_id=f"d{i}",
    secret="k", app_id="a") for i in range(10)])
rows = VendorAccount.objects.only("id").iterator(chunk_size=2)
next(rows)
other = psycopg.connect("%s")
other.execute("SELECT 1")  # an open transaction: it holds a server connection
try:
    print(json.dumps(f"ok {1 + sum(1 for _ in rows)}"))
except Exception as exc:
    print(json.dumps(f"error {exc}"))
other.rollback()
"""


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_the_console_works_through_pgbouncer_in_transaction_mode(
    own_postgres,
    own_redis,
    console_factory,
):
    database_url = own_postgres.create_database()
    database = database_url.rsplit("/", 1)[1]
    bouncer = OwnPgBouncer(own_postgres, pool_size=2)
    bouncer.start()
    try:
        console = console_factory(
            bouncer.url(database),
            own_redis.url,
            DATABASE_POOLER="pgbouncer",
            SANDBOX_ENABLED="1",
        )
        console.env["OUTBOUND_PRIVATE_ALLOWLIST"] = f"127.0.0.1:{console.port}"
        seeded = json.loads(
            console.manage("shell", "-c", SEED.format(base=console.url)).splitlines()[-1]
        )
        console.start_web()
        console.start_worker(concurrency=4)

        def sql(statement: str):
            return own_postgres.sql(statement, database=database)

        # A binding over the API, bound at the sandbox by the worker.
        response = requests.post(
            f"{console.url}/api/v1/bindings/",
            json={
                "kind": "axb",
                "vendor_account": seeded["account"],
                "a_number": "13800000001",
                "b_number": "13900000002",
                "ttl": 600,
            },
            headers={"Authorization": f"Token {seeded['token']}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        states = _wait(lambda: sql("SELECT state FROM privacy_binding") == [("active",)])
        assert states, (sql("SELECT state, last_error FROM privacy_binding"), console.log("worker"))

        # CDRs acknowledged by the webhook, normalized by the worker.
        session = requests.Session()
        for i in range(20):
            fields = igw_cdr(devid="pgb-dev", appid="pgb-app", taskid=f"pgb-{i}")
            response = session.post(
                f"{console.url}/callbacks/{seeded['webhook']}/cdr/",
                data=urlencode(fields),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
        done = "SELECT count(*) FROM callbacks_delivery WHERE outcome = 'accepted'"
        assert _wait(lambda: sql(done) == [(20,)]), console.log("worker")
        assert sql("SELECT count(*), count(DISTINCT call_id) FROM callbacks_callrecord") == [
            (20, 20)
        ]

        # A CSV export and a queryset iterator, in a process of their own.
        exported = json.loads(console.manage("shell", "-c", EXPORT).splitlines()[-1])
        assert exported == {
            "lines": 21,  # the header and 20 calls
            "status": "done",
            "iterated": 20,
            "no_server_cursors": True,
        }

        stats = bouncer.stats()
        assert stats["total_xact_count"] > 20, stats  # it all went through PgBouncer
        assert "ERROR" not in bouncer.log(), bouncer.log()[-2000:]
    finally:
        bouncer.remove()  # the console's processes are stopped by console_factory


@pytest.mark.parametrize(
    ("value", "expected"),
    [("pgbouncer", "True"), ("", "False"), ("pgpool", "DATABASE_POOLER is empty or pgbouncer")],
)
def test_database_pooler_setting(value, expected):
    """DATABASE_POOLER=pgbouncer turns server-side cursors off; a typo stops start-up."""
    code = (
        "import ccp_console.settings as s;"
        "print(s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))"
    )
    env = {**os.environ, "DATABASE_POOLER": value, "ENV_FILE": "", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert expected in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("pooler", "expected"),
    [("pgbouncer", "ok 10"), ("", "error cursor")],
)
def test_server_side_cursors_break_in_transaction_mode_unless_turned_off(
    own_postgres, pooler, expected
):
    """Why DATABASE_POOLER=pgbouncer: Django's iterator() declares a WITH HOLD cursor
    in autocommit, and its next FETCH may reach another server connection."""
    database = own_postgres.create_database().rsplit("/", 1)[1]
    bouncer = OwnPgBouncer(own_postgres, pool_size=2)
    bouncer.start()
    try:
        env = {**os.environ, **CONSOLE_ENV, "DATABASE_URL": bouncer.url(database)}
        env["DATABASE_POOLER"] = pooler
        out = manage(env, "shell", "-c", HOP % bouncer.url(database))
        assert json.loads(out.splitlines()[-1]).startswith(expected), out
    finally:
        bouncer.remove()
