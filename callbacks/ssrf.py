"""Fetching a recording URL a vendor gave us, without becoming a proxy into our network.

A CDR's recording link is vendor-controlled input: anyone who can post a CDR
(or who controls a vendor's DNS) could point it at 169.254.169.254, a database
port on 10.x or localhost.  The rules are the one outbound host policy of
`vendors.outbound` (the same one vendor API calls pass), built per account by
`accounts.selectors.recording_policy`: the account's base_url host:port and its
recording_hosts, private addresses only for an exact host:port that both the
deployment (OUTBOUND_PRIVATE_ALLOWLIST) and recording_hosts list.  Redirects
are followed here by hand (at most MAX_REDIRECTS), each target checked like the
first URL.

`fetch` streams the body into a temporary file with a size cap and returns it
with its sha256.  It raises `Refused` (permanent: policy) or `FetchError`
(`permanent` tells whether a retry could help).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests

from vendors.outbound import FetchError, HostPolicy, Refused, guarded_session, refusal_in

__all__ = ["MAX_REDIRECTS", "FetchError", "Fetched", "HostPolicy", "Refused", "fetch"]

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


@dataclass
class Fetched:
    file: IO[bytes]
    size: int
    sha256: str
    content_type: str
    url: str


def fetch(
    url: str,
    *,
    policy: HostPolicy,
    max_bytes: int,
    timeout: float | tuple[float, float] = (5.0, 30.0),
    deadline: float | None = None,
) -> Fetched:
    """Download `url` under `policy` into a temporary file (caller closes it).

    `deadline` (seconds) bounds the whole download, not only each read: the
    recording task's claim is a lease, and a download must end before it runs out.
    """
    session = guarded_session(policy)
    ends = time.monotonic() + deadline if deadline else None
    try:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            policy.check_url(current)
            try:
                response = session.get(current, stream=True, timeout=timeout, allow_redirects=False)
            except Refused:
                raise
            except requests.RequestException as exc:
                refused = refusal_in(exc)  # raised inside the connection, it may surface wrapped
                if refused is not None:
                    raise refused from None
                raise FetchError(f"{type(exc).__name__}: {exc}") from None
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise FetchError("redirect without Location", permanent=True)
                    current = urljoin(current, location)
                    continue
                return _read(response, current, max_bytes, ends)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", permanent=True)
    finally:
        session.close()


def _read(response: requests.Response, url: str, max_bytes: int, ends: float | None) -> Fetched:
    status = response.status_code
    if status != 200:
        # 4xx other than 408/429 will not change by itself... except that a vendor
        # may publish the recording a little after the CDR (404 then 200): the
        # caller decides how long to keep trying.
        raise FetchError(f"HTTP {status} from {urlsplit(url).hostname}", status=status)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"recording is {declared} bytes, over the {max_bytes} cap", permanent=True)
    digest = hashlib.sha256()
    size = 0
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - returned
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"recording exceeds the {max_bytes}-byte cap", permanent=True)
            if ends is not None and time.monotonic() > ends:
                raise FetchError("download too slow: it did not end within its deadline")
            digest.update(chunk)
            out.write(chunk)
    except requests.RequestException as exc:
        out.close()
        raise FetchError(f"download interrupted: {type(exc).__name__}: {exc}") from None
    except FetchError:
        out.close()
        raise
    out.seek(0)
    ctype = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return Fetched(file=out, size=size, sha256=digest.hexdigest(), content_type=ctype, url=url)
