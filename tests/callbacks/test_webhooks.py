"""Reading webhook bodies (callbacks/webhooks.py): chunked transfer encoding over
real HTTP servers, with the same cap as any other body.

gunicorn is the production server and decodes chunked input; it runs here as a
real process on the test database.  Django's development server (live_server)
cannot read chunked bodies at all: it must say so (411), not store an empty body.
"""

import http.client
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from callbacks import services, webhooks
from callbacks.models import CallRecord, Delivery
from tests.payloads import igw_cdr, url_for
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CAP = webhooks.conf.MAX_BODY_BYTES


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """`gunicorn ccp_console.wsgi` on 127.0.0.1, on the test database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "ccp_console.settings_test",
        "PYTHONPATH": str(ROOT),
    }
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "ccp_console.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--worker-class", "gthread", "--threads", "2"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def post_chunked(address, path: str, body: bytes, *, chunk: int = 1000, content_type: str):
    """POST `body` with Transfer-Encoding: chunked (an iterable body, no length)."""
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        pieces = (body[i : i + chunk] for i in range(0, len(body), chunk))
        conn.request("POST", path, body=pieces, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_chunked_cdr_is_read_and_processed_under_gunicorn(gunicorn, igw_account):
    fields = igw_cdr(igw_account, userData="x" * 200)
    body = urlencode(fields).encode()
    status, answer = post_chunked(
        gunicorn,
        url_for(igw_account, "cdr"),
        body,
        chunk=37,
        content_type="application/x-www-form-urlencoded",
    )
    assert (status, answer) == (200, b'{"error":0}')
    services.deliveries_normalize_all()  # what a worker does after the ack
    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == body and delivery.body_size == len(body)
    assert delivery.outcome == Delivery.Outcome.ACCEPTED
    assert delivery.headers["Transfer-Encoding"] == "chunked"
    assert CallRecord.objects.get().call_id == "task-1"


@pytest.mark.django_db(transaction=True)
def test_chunked_body_over_the_cap_is_413_under_gunicorn(gunicorn, igw_account):
    body = b"a=" + b"x" * (CAP + 10)  # the case was 2.5 MB: anything over the cap
    status, _ = post_chunked(
        gunicorn,
        url_for(igw_account, "cdr"),
        body,
        chunk=64 * 1024,
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 413
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_INVALID
    assert "cap" in delivery.reason and bytes(delivery.body) == b""


@pytest.mark.django_db(transaction=True)
def test_chunked_body_on_the_development_server_is_411_not_an_empty_delivery(
    live_server, igw_account
):
    address = live_server.url.split("://", 1)[1].split(":")
    body = urlencode(igw_cdr(igw_account)).encode()
    status, _ = post_chunked(
        (address[0], int(address[1])),
        url_for(igw_account, "cdr"),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 411
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_INVALID
    assert "chunked" in delivery.reason
    assert not CallRecord.objects.exists()


def _chunked_request(rf, data: bytes, *, terminated: bool):
    request = rf.post("/x", data=b"", content_type="text/plain")
    request.META.pop("CONTENT_LENGTH", None)
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.META["wsgi.input"] = io.BytesIO(data)
    if terminated:
        request.META["wsgi.input_terminated"] = True
    return request


def test_read_body_reads_a_decoded_chunked_stream_up_to_the_cap(rf):
    assert webhooks.read_body(_chunked_request(rf, b"x" * 100, terminated=True), limit=100) == (
        b"x" * 100
    )
    with pytest.raises(webhooks.BodyTooLarge):
        webhooks.read_body(_chunked_request(rf, b"x" * 101, terminated=True), limit=100)
    with pytest.raises(webhooks.BodyUnreadable):
        webhooks.read_body(_chunked_request(rf, b"x", terminated=False), limit=100)
