"""Fixtures for the sandbox tests: console accounts whose base_url points at the
sandbox served by pytest-django's live_server, and a capture server that plays
the console's callback endpoint."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.selectors import vendor_client
from sandbox.protocol import base_path
from sandbox.services import ensure_sandbox_account
from tests.factories import PrivacyNumberFactory, VendorAccountFactory
from vendors import RetryPolicy


@dataclass
class Vendor:
    """A console VendorAccount, its sandbox mirror and a client bound to it."""

    account: object
    sandbox: object
    client: object
    base_url: str


@pytest.fixture
def sandbox_url(live_server, transactional_db) -> str:
    return f"{live_server.url}/sandbox"


@pytest.fixture
def make_vendor(live_server, transactional_db):
    def make(code: str, *, numbers: int = 0, retry: int = 1, **fields) -> Vendor:
        base_url = live_server.url + base_path(code)
        account = VendorAccountFactory(vendor=code, base_url=base_url, **fields)
        for _ in range(numbers):
            PrivacyNumberFactory(vendor_account=account)
        sandbox = ensure_sandbox_account(vendor_account=account)
        client = vendor_client(
            account=account, retry=RetryPolicy(max_attempts=retry, backoff=0, jitter=False)
        )
        return Vendor(account, sandbox, client, base_url)

    return make


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CaptureServer:
    """A tiny HTTP server on 127.0.0.1 that records every request it gets and
    answers `statuses` in turn (then 200)."""

    url: str
    requests: list[Captured] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def capture():
    holder: dict[str, CaptureServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            server = holder["server"]
            with server.lock:
                server.requests.append(
                    Captured("POST", self.path, {k: v for k, v in self.headers.items()}, body)
                )
                status = server.statuses.pop(0) if server.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = CaptureServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield holder["server"]
    httpd.shutdown()
    httpd.server_close()


def point_callbacks_at(sandbox, capture: CaptureServer) -> dict[str, str]:
    """Keep each webhook URL's path, move its host to the capture server."""
    from urllib.parse import urlsplit

    urls = {}
    for kind, url in sandbox.callback_urls.items():
        parts = urlsplit(url)
        urls[kind] = capture.url + parts.path
    sandbox.callback_urls = urls
    sandbox.save(update_fields=["callback_urls"])
    return urls
