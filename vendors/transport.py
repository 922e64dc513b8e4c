"""What every vendor request shares, whatever the vendor: the bounded retry
policy, whether a failed request provably never reached the vendor, the
Retry-After header, and how an answer that is not the vendor's envelope is
described to users (never quoted).  Used by vendors/base.py.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

__all__ = ["RetryPolicy", "describe_answer", "never_sent", "retry_after"]


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
