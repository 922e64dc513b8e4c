"""Sending callbacks over real HTTP, the way the vendors do: bounded retries, a
timeout, and every attempt journaled as a SandboxDelivery row.

A vendor module builds the callbacks of a played call as `Outgoing` items (in
the order the vendor would send them); `send_all` applies the call's chaos
(delay, duplicate delivery, out-of-order delivery) and posts them one by one.

CHOICES: a callback is retried on a network error or any non-2xx answer, at
most `len(retry_delays)` more times (default 1 s then 3 s: vendors retry only a
few times, see DESIGN.md); signed headers are recomputed for every attempt so
a huawei Created is always fresh.  Duplicates are sent right after the
original; out-of-order reverses the whole sequence (the CDR before the
call-start / status events).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.models import SandboxCall, SandboxDelivery
from sandbox.protocol import redact_headers

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0)
TIMEOUT = (3.05, 10.0)
USER_AGENT = "ccp-console-sandbox/1.0"


@dataclass(frozen=True)
class Outgoing:
    """One callback to POST.  `sign(url)` returns the authenticating headers."""

    kind: str
    event: str
    url: str
    body: bytes
    content_type: str
    sign: Callable[[str], dict[str, str]] | None = None


def plan(items: Sequence[Outgoing], chaos: dict[str, Any]) -> list[tuple[Outgoing, bool]]:
    """The sending order after chaos: (item, is_duplicate) pairs."""
    ordered = list(reversed(items)) if chaos.get("out_of_order") else list(items)
    out: list[tuple[Outgoing, bool]] = []
    for item in ordered:
        out.append((item, False))
        if chaos.get("duplicate"):
            out.append((item, True))
    return out


def send_all(
    call: SandboxCall,
    items: Sequence[Outgoing],
    *,
    chaos: dict[str, Any],
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
) -> bool:
    """Deliver every item; True when each one got a 2xx in the end."""
    delay = float(chaos.get("delay_ms") or 0) / 1000
    all_ok = True
    for sequence, (item, duplicate) in enumerate(plan(items, chaos), start=1):
        if delay:
            time.sleep(delay)
        ok = send_one(call, item, sequence=sequence, duplicate=duplicate, retry_delays=retry_delays)
        all_ok = all_ok and ok
    return all_ok


def send_one(
    call: SandboxCall,
    item: Outgoing,
    *,
    sequence: int,
    duplicate: bool = False,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
) -> bool:
    body_text = item.body.decode("utf-8", "replace")
    if not item.url:
        SandboxDelivery.objects.create(
            call=call,
            kind=item.kind,
            event=item.event,
            sequence=sequence,
            url="",
            content_type=item.content_type,
            body=body_text,
            error=f"no callback URL configured for kind {item.kind!r}",
            duplicate=duplicate,
        )
        return False
    attempts = len(retry_delays) + 1
    for attempt in range(1, attempts + 1):
        headers = {"Content-Type": item.content_type, "User-Agent": USER_AGENT}
        if item.sign is not None:
            headers.update(item.sign(item.url))
        started = time.perf_counter()
        status: int | None = None
        response_body = ""
        error = ""
        try:
            # No shared Session: deliveries may run in several threads at once.
            response = requests.post(
                item.url, data=item.body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
            status = response.status_code
            response_body = response.text[:2000]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        SandboxDelivery.objects.create(
            call=call,
            kind=item.kind,
            event=item.event,
            sequence=sequence,
            attempt=attempt,
            url=item.url[:500],
            content_type=item.content_type,
            headers=redact_headers(headers),
            body=body_text,
            http_status=status,
            response_body=response_body,
            error=error,
            duplicate=duplicate,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if status is not None and 200 <= status < 300:
            return True
        if attempt < attempts:
            time.sleep(retry_delays[attempt - 1])
    return False
