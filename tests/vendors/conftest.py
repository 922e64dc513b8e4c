"""Fixtures for the vendors/ tests: no database, no Django, no Celery.

Vendor HTTP is exercised two ways: a tiny real HTTP server on 127.0.0.1
(`vendor_server`) that records what arrived and answers from a script, and a
fault-injecting requests adapter (`FaultAdapter`) for timeouts and resets,
which cannot be produced reliably by a real server.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from vendors import RetryPolicy

# No sleeping between retries in tests; attempts still count.
FAST_RETRY = RetryPolicy(max_attempts=4, backoff=0.0, max_backoff=0.0, jitter=False)


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Shadow the project-wide autouse fixture: vendors/ tests need no Celery
    (and must not import Django)."""
    yield


@dataclass
class Recorded:
    method: str
    path: str  # including the query string
    headers: dict[str, str]
    body: bytes


@dataclass
class VendorServer:
    """Scripted answers, recorded requests."""

    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    script: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)

    def answer(self, status: int = 200, body: Any = None, *, content_type: str = "") -> None:
        if isinstance(body, dict | list):
            raw = json.dumps(body, ensure_ascii=False).encode()
            content_type = content_type or "application/json;charset=utf-8"
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        headers = {"Content-Type": content_type} if content_type else {}
        self.script.append((status, headers, raw))


@pytest.fixture
def vendor_server() -> Iterator[VendorServer]:
    server_state: dict[str, VendorServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            state = server_state["s"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(
                Recorded(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
            )
            status, headers, raw = state.script.popleft() if state.script else (200, {}, b"{}")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = VendorServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    server_state["s"] = state
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


class FaultAdapter(BaseAdapter):
    """A requests transport that plays a script: each item is an exception to
    raise or a (status, body) pair to answer.  Records every request."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = deque(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        item = self.script.popleft()
        if isinstance(item, BaseException):
            raise item
        status, body = item
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if isinstance(body, dict) else body
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def fault_session(script: list[Any]) -> tuple[requests.Session, FaultAdapter]:
    session = requests.Session()
    adapter = FaultAdapter(script)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return FAST_RETRY


@pytest.fixture
def faults() -> Any:
    """faults(script) -> (session, adapter): a session whose transport plays `script`."""
    return fault_session
