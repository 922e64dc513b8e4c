"""What every simulated vendor endpoint shares: the vendor-module contract, the
rejection exception, the request journal (SandboxRequest), secret redaction and
API-side chaos.

A vendor module (sandbox/<code>.py, or the dotted path its client class names in
`sandbox_module`) provides:
  ROUTES            `Route`s under /sandbox/<code>/: the document's own paths,
                    the methods they take and their handlers
                    `handler(exchange, **url_kwargs) -> HttpResponse`, which
                    raise `Rejection` for any documented failure;
  render_rejection  (exchange, rejection) -> the vendor's own error body;
  OUTCOMES          the CallOutcome values its callbacks can express;
  callbacks         (call, *, recording_url) -> list[delivery.Outgoing]: the
                    documented callbacks of a played call;
and may provide:
  BASE_PATH         what follows /sandbox/<code> in an account's base_url
                    ("" by default; ccp: its API version);
  DEMO_ACCOUNT      the quick start's demo account (manage.py seed_demo);
  new_call_id(now)  a call id shaped like the vendor's (default 32 hex digits);
  mirror_fields(vendor_account)  SandboxAccount fields copied from a console
                    account besides the credentials (ccp: platform_mac);
  records_by_default(call)  whether an answered call records (default False).
`serve` runs a handler, answers, and journals the exchange whatever happened.
The Django apps and sandbox/endpoints.py find modules through the vendors
registry; nothing outside a vendor module names its code.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from django.db.models import F
from django.http import HttpRequest, HttpResponse

import vendors
from sandbox.models import SandboxAccount, SandboxRequest

logger = logging.getLogger("sandbox")

# Header values never stored: they carry (or are derived from) a secret.
SECRET_HEADERS = frozenset({"authorization", "x-aksk"})
# Query parameters never stored: ccp and cyj put the MD5 signature there.
SECRET_PARAMS = frozenset({"sig"})
MAX_STORED_BODY = 4000

# Verdicts stored on SandboxRequest (the page filters on them).
OK = "ok"
AUTH_FAILED = "auth_failed"
STALE = "stale_timestamp"
UNKNOWN_ACCOUNT = "unknown_account"
INVALID = "invalid_params"
CONFLICT = "conflict"
NOT_FOUND = "not_found"
REFUSED = "refused"
CHAOS = "chaos"
ERROR = "error"


class Rejection(Exception):
    """A documented failure: the vendor's code, its text, the HTTP status to answer."""

    def __init__(self, verdict: str, code: str, message: str, *, http_status: int = 200) -> None:
        super().__init__(code, message)
        self.verdict = verdict
        self.code = code
        self.message = message
        self.http_status = http_status


class ChaosResponse(Exception):
    """Chaos short-circuits the handler with a response no vendor documents."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("chaos")
        self.response = response


@dataclass
class Exchange:
    """One request as it goes through a handler."""

    request: HttpRequest
    vendor: str
    account: SandboxAccount | None = None
    verdict: str = OK
    code: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sandbox_base_url(self) -> str:
        """http://host:port/sandbox, as the client reached us (recording URLs use it)."""
        return self.request.build_absolute_uri("/sandbox").rstrip("/")


Handler = Callable[[Exchange], HttpResponse]
Renderer = Callable[[Exchange, Rejection], HttpResponse]


class Route(NamedTuple):
    """One endpoint of a vendor module: a django.urls `path` pattern relative to
    /sandbox/<code>/, the HTTP methods it answers, and its handler."""

    pattern: str
    methods: tuple[str, ...]
    handler: Callable[..., HttpResponse]


def vendor_module(vendor: str) -> Any:
    """The sandbox module of a registered vendor (KeyError for an unknown code).
    Imported lazily: vendor modules import this one."""
    return importlib.import_module(vendors.REGISTRY[vendor].sandbox_module_name())


def base_path(vendor: str) -> str:
    """/sandbox/<code>[/BASE_PATH]: where an account's base_url points in the sandbox."""
    extra = getattr(vendor_module(vendor), "BASE_PATH", "").strip("/")
    return f"/sandbox/{vendor}" + (f"/{extra}" if extra else "")


def serve(request: HttpRequest, *, vendor: str, handler: Handler, render: Renderer) -> HttpResponse:
    """Run `handler`, map rejections through `render`, journal the exchange."""
    started = time.perf_counter()
    exchange = Exchange(request=request, vendor=vendor)
    if _holds_nul(request):
        # No vendor accepts NUL, and PostgreSQL cannot store it: refused before any lookup.
        exchange.verdict = INVALID
        response = HttpResponse(
            "NUL character in the request", status=400, content_type="text/plain"
        )
        record_request(exchange, response, started)
        return response
    try:
        response = handler(exchange)
    except Rejection as rejection:
        exchange.verdict = rejection.verdict
        exchange.code = rejection.code
        response = render(exchange, rejection)
    except ChaosResponse as chaos:
        exchange.verdict = CHAOS
        response = chaos.response
    except Exception:
        # A bug in the sandbox must still be journaled, then surface as a 500.
        logger.exception("sandbox %s handler failed", vendor)
        exchange.verdict = ERROR
        response = HttpResponse("sandbox internal error", status=500, content_type="text/plain")
    record_request(exchange, response, started)
    return response


def _holds_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    body = request.body if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
    return b"\x00" in body or b"\\u0000" in body or b"%00" in body


def _text(value: str) -> str:
    """Text PostgreSQL can store: the journal keeps refused requests too."""
    return value.replace("\x00", "\ufffd")


def record_request(exchange: Exchange, response: HttpResponse, started: float) -> SandboxRequest:
    request = exchange.request
    return SandboxRequest.objects.create(
        vendor=exchange.vendor,
        account=exchange.account,
        method=request.method or "",
        path=_text(request.path[:500]),
        query=_text(redact_query(request.META.get("QUERY_STRING", ""))[:1000]),
        headers={_text(k): _text(v) for k, v in redact_headers(request.headers).items()},
        body=_text(request.body[:MAX_STORED_BODY].decode("utf-8", "replace"))
        if request.method in ("POST", "PUT", "PATCH")
        else "",
        verdict=exchange.verdict,
        vendor_code=exchange.code[:32],
        http_status=response.status_code,
        remote_addr=request.META.get("REMOTE_ADDR", "")[:64],
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def redact_headers(headers: Any) -> dict[str, str]:
    """Request headers with the value of every authenticating header replaced."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            out[name] = f"[redacted, {len(value)} chars]"
        elif name.lower() != "cookie":
            out[name] = str(value)[:300]
    return out


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "[redacted]" if k.lower() in SECRET_PARAMS else v) for k, v in pairs])


def api_chaos(account: SandboxAccount) -> None:
    """Apply the account's API-side chaos to one authenticated request.

    The counters are decremented with a conditional UPDATE so two concurrent
    requests never both consume the last one.
    """
    if account.chaos_api_delay_ms:
        time.sleep(account.chaos_api_delay_ms / 1000)
    if account.chaos_api_fail_next and _consume(account, "chaos_api_fail_next"):
        raise ChaosResponse(
            HttpResponse(
                "503 Service Unavailable (sandbox chaos)", status=503, content_type="text/plain"
            )
        )
    if account.chaos_api_timeout_next and _consume(account, "chaos_api_timeout_next"):
        # The client's read timeout should fire first; then we answer into the void.
        time.sleep(account.chaos_timeout_seconds)
        raise ChaosResponse(
            HttpResponse("504 sandbox chaos timeout", status=504, content_type="text/plain")
        )


def _consume(account: SandboxAccount, counter: str) -> bool:
    filters = {"pk": account.pk, f"{counter}__gt": 0}
    return bool(SandboxAccount.objects.filter(**filters).update(**{counter: F(counter) - 1}))
