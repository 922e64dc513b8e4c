"""What the webhook view takes from an HTTP request: body, URL, source IP, safe headers.

Reverse proxies.  The huawei push signature covers the URL the vendor posted
to, so we must rebuild exactly that URL.  `request.build_absolute_uri()` does,
provided Django knows the public scheme and host: with settings.TRUSTED_PROXY
on, settings.py sets SECURE_PROXY_SSL_HEADER (X-Forwarded-Proto) and
USE_X_FORWARDED_HOST (X-Forwarded-Host); the proxy must set both and pass the
path unchanged.  Without TRUSTED_PROXY those headers are ignored (anyone can
send them), so a console behind a proxy without it sees http://internal-host/
and every signature check fails: the delivery page then shows the URL we
computed next to the Created/Nonce that arrived, which makes this obvious.

Source IP.  Without TRUSTED_PROXY it is REMOTE_ADDR.  With it, REMOTE_ADDR is
the proxy, and the client is the X-Forwarded-For entry appended by our own
outermost trusted proxy: counting from the right, hop number
TRUSTED_PROXY_HOPS (default 1).  Entries further left are whatever the
client sent and are never trusted.

Headers kept on the inbox row: an allowlist of what helps an operator
(content type, user agent, forwarding), plus the headers the vendor client's
`authenticate_callback` reads (`callback_headers`, e.g. huawei's X-AKSK: a
nonce, a time, the app key and an HMAC digest, no credential), kept whole so
a replay can re-check the signature; never cookies.  Authorization is stored
as the client's `stored_authorization` makes it: by default a
`[redacted: N chars]` placeholder, since most embed a credential (ccp's
Base64(MAC:AuthToken), cyj's Base64(token:...)); huawei keeps its fixed,
secret-free `AKSK realm=...` value.  Signature headers let anyone re-post
another body while they are fresh, so pages never show them
(selectors.delivery_shown_headers hides each vendor's `hidden_callback_headers`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

import vendors
from callbacks import conf

KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Encoding",
    "Transfer-Encoding",
    "User-Agent",
    "Accept",
    "Host",
    "Authorization",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Real-IP",
    "X-Request-Id",
)


class BodyRefused(Exception):
    """A body we will not take: answered `status` with `answer`; the delivery is
    kept without its body, rejected_invalid with `reason` (the vendor should know)."""

    status: int = 400
    answer: str = "body refused"
    reason: str = "body refused; not stored"
    size: int | None = None


class BodyTooLarge(BodyRefused):
    status = 413

    def __init__(self, size: int | None):
        super().__init__(size)
        self.size = size
        self.answer = f"body over {conf.MAX_BODY_BYTES} bytes"
        declared = f" ({size} bytes declared)" if size else ""
        self.reason = f"body over the {conf.MAX_BODY_BYTES}-byte cap{declared}; not stored"


class BodyUnreadable(BodyRefused):
    """A chunked body on a server that does not decode chunked input (411)."""

    status = 411
    answer = "send a Content-Length: this server cannot read chunked bodies"
    reason = (
        "chunked body on a server that cannot read chunked request bodies "
        "(Django's development server); not stored: run under gunicorn"
    )


@dataclass(frozen=True)
class Inbound:
    """One webhook request, reduced to what the services need."""

    body: bytes
    content_type: str
    url: str
    source_ip: str | None
    headers: dict[str, str]  # the request's headers, for authentication only
    stored_headers: dict[str, str]  # the safe subset kept on the inbox row


def read_body(request: HttpRequest, limit: int = conf.MAX_BODY_BYTES) -> bytes:
    """The body, or BodyTooLarge if Content-Length or the bytes read exceed `limit`.

    Read from the stream ourselves: request.body would buffer up to Django's
    2.5 MB DATA_UPLOAD_MAX_MEMORY_SIZE before refusing with a 400.

    Chunked bodies (Transfer-Encoding: chunked, no Content-Length): Django's
    WSGIRequest limits its stream to CONTENT_LENGTH, i.e. 0, so request.read()
    returned b"" and every chunked delivery was stored empty and refused.  A
    server that decodes chunked input says so with wsgi.input_terminated
    (gunicorn, the production server, does); we then read its wsgi.input,
    with the same cap.  Django's development server (runserver, live_server)
    cannot: BodyUnreadable, answered 411 Length Required so the sender knows.
    """
    declared = (request.META.get("CONTENT_LENGTH") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared))
    if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return _read_chunked(request, limit)
    data = request.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(None)
    return data


def _read_chunked(request: HttpRequest, limit: int) -> bytes:
    if not request.META.get("wsgi.input_terminated"):
        raise BodyUnreadable()
    stream = request.META["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        data = stream.read(min(64 * 1024, limit + 1 - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    if size > limit:
        raise BodyTooLarge(None)
    return b"".join(parts)


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    if getattr(settings, "TRUSTED_PROXY", False):
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        hops = conf.trusted_proxy_hops()
        if len(forwarded) >= hops:
            remote = forwarded[-hops]
    return _valid_ip(remote)


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def safe_headers(
    request: HttpRequest, client_cls: type[vendors.VendorClient] = vendors.VendorClient
) -> dict[str, str]:
    kept = {}
    for name in (*KEPT_HEADERS, *client_cls.callback_headers):
        value = request.headers.get(name)
        if value is None:
            continue
        if name == "Authorization":
            value = client_cls.stored_authorization(value)
        kept[name] = value[:2000]
    return kept


def inbound(
    request: HttpRequest,
    body: bytes,
    client_cls: type[vendors.VendorClient] = vendors.VendorClient,
) -> Inbound:
    """The delivery as the inbox sees it; `client_cls` (the account's vendor) says
    which signature headers to keep and how its Authorization is stored."""
    return Inbound(
        body=body,
        content_type=request.META.get("CONTENT_TYPE", "")[:200],
        url=request.build_absolute_uri(),
        source_ip=client_ip(request),
        headers=dict(request.headers),
        stored_headers=safe_headers(request, client_cls),
    )
