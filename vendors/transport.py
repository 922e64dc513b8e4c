"""What every vendor request shares, whatever the vendor: the bounded retry
policy, what one attempt came to (`Attempt`, `request_error`, one log line
each), whether a failed request provably never reached the vendor, the
Retry-After header, and how an answer that is not the vendor's envelope is
described to users (never quoted).  Used by vendors/base.py.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from .errors import NetworkError, OutboundRefused, VendorError
from .outbound import Refused, refusal_in

__all__ = [
    "Attempt",
    "RetryPolicy",
    "describe_answer",
    "log_attempt",
    "never_sent",
    "request_error",
    "retry_after",
]

logger = logging.getLogger("vendors")

_REFUSED = "Refused by the outbound host policy: nothing was sent."


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff.  max_attempts counts the first try."""

    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        if self.jitter:
            # "Equal jitter": keeps at least half the backoff so a burst of
            # workers cannot all come back at once right away.
            base = base / 2 + random.uniform(0, base / 2)
        if retry_after is not None:
            base = max(base, min(retry_after, self.max_backoff))
        return base


# A media type as RFC 9110 spells it; anything else in the header is not shown.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,40}/[a-z0-9][a-z0-9!#$&^_.+-]{0,60}")


def describe_answer(response: requests.Response) -> str:
    """'unexpected answer (HTTP 200, 57 bytes, text/html)': what users see of a reply
    that is not the vendor's envelope.  Status, size and media type only: the body,
    the reason phrase and any odd Content-Type are the answering server's words."""
    ctype = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(ctype):
        ctype = "no content type" if not ctype else "unrecognized content type"
    size = len(response.content or b"")
    return f"unexpected answer (HTTP {response.status_code}, {size} bytes, {ctype})"


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the vendor."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None  # HTTP-date form: rare for these vendors, ignore


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one HTTP attempt came to: the payload, or the error to retry or raise."""

    started: float
    payload: Any = None
    error: VendorError | None = None
    http_status: int | None = None
    vendor_code: str = ""
    retry_after: float | None = None
    never_sent: bool = False  # provably never reached the vendor: safe to retry


def request_error(code: str, exc: Refused | requests.RequestException, started: float) -> Attempt:
    """The Attempt of a request that got no answer (`code` is the vendor's)."""
    refused = exc if isinstance(exc, Refused) else refusal_in(exc)
    if refused is not None:
        error = OutboundRefused(code, "refused", str(refused), message_en=_REFUSED)
        return Attempt(started, error=error)
    if isinstance(
        exc, requests.Timeout | requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        kind = "timeout" if isinstance(exc, requests.Timeout) else "connection"
        error = NetworkError(code, kind, f"{type(exc).__name__}: {exc}")
        return Attempt(started, error=error, never_sent=never_sent(exc))
    # Bad URL, too many redirects...: configuration, not weather.
    return Attempt(started, error=VendorError(code, "request", f"{type(exc).__name__}: {exc}"))


def log_attempt(code: str, method: str, path: str, attempt: Attempt, number: int) -> None:
    """One log line per attempt, with the fields as `extra` for structured logs.
    `path` must not carry the query (ccp and cyj sign there)."""
    latency_ms = round((time.perf_counter() - attempt.started) * 1000, 1)
    fields = {
        "vendor": code,
        "method": method,
        "path": path,
        "http_status": attempt.http_status,
        "vendor_code": attempt.vendor_code,
        "latency_ms": latency_ms,
        "attempt": number,
    }
    error = attempt.error
    logger.log(
        logging.INFO if error is None else logging.WARNING,
        "%s %s %s -> %s code=%s %.1fms attempt=%d %s",
        code,
        method,
        path,
        attempt.http_status,
        attempt.vendor_code or "-",
        latency_ms,
        number,
        "ok" if error is None else type(error).__name__,
        extra=fields,
    )
