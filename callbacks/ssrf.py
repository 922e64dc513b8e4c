"""Fetching a recording URL a vendor gave us, without becoming a proxy into our network.

A CDR's recording link is vendor-controlled input: anyone who can post a CDR
(or who controls a vendor's DNS) could point it at 169.254.169.254, a database
port on 10.x or localhost.  Rules, checked for the first URL and every
redirect hop:

- scheme http or https only;
- the host must be allowed for the account (`HostPolicy.for_account`): the
  host and port of the account's base_url, plus each extra["recording_hosts"]
  entry ("host" = any port, "host:port" = that port);
- DNS is resolved here and EVERY resolved address is checked; the socket then
  connects to one of those checked addresses (no second lookup, so DNS
  rebinding between check and connect cannot slip in), while TLS still
  verifies the certificate for the host name;
- link-local (cloud metadata), multicast, unspecified and reserved addresses
  are always refused; loopback and private ranges (anything not globally
  routable) only for a host listed literally in recording_hosts — stricter
  than "allowed for the account": base_url alone never opens a private range;
- redirects are followed by hand (at most MAX_REDIRECTS), each target checked
  like the first URL; a redirect to a host that is not allowed is refused;
- environment proxies are ignored (a proxy would resolve names for us).

`fetch` streams the body into a temporary file with a size cap and returns it
with its sha256.  It raises `Refused` (permanent: policy) or `FetchError`
(`permanent` tells whether a retry could help).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

__all__ = ["MAX_REDIRECTS", "FetchError", "Fetched", "HostPolicy", "Refused", "fetch"]

MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 64 * 1024


class FetchError(Exception):
    """The download failed.  `permanent` is False when a later retry may succeed."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class Refused(FetchError):
    """The URL or an address it resolves to is not allowed.  Never retried."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts a fetch may reach.  `ports[host]` is None for any port."""

    ports: dict[str, frozenset[int] | None] = field(default_factory=dict)
    # Hosts listed literally by an operator: only these may resolve to private ranges.
    private_ok: frozenset[str] = frozenset()

    @classmethod
    def build(cls, *, base_url: str, recording_hosts: Iterable[str] = ()) -> HostPolicy:
        ports: dict[str, set[int] | None] = {}
        parts = urlsplit(base_url)
        if parts.hostname and parts.scheme in _DEFAULT_PORTS:
            port = parts.port or _DEFAULT_PORTS[parts.scheme]
            ports.setdefault(parts.hostname.lower(), set())
            if ports[parts.hostname.lower()] is not None:
                ports[parts.hostname.lower()].add(port)  # type: ignore[union-attr]
        private_ok = set()
        for entry in recording_hosts:
            host, port = _split_host_port(str(entry))
            if not host:
                continue
            private_ok.add(host)
            if port is None:
                ports[host] = None
            elif ports.get(host, set()) is not None:
                ports.setdefault(host, set()).add(port)  # type: ignore[union-attr]
        frozen = {h: (None if p is None else frozenset(p)) for h, p in ports.items()}
        return cls(ports=frozen, private_ok=frozenset(private_ok))

    @classmethod
    def for_account(cls, account: Any) -> HostPolicy:
        hosts = (account.extra or {}).get("recording_hosts") or []
        return cls.build(base_url=account.base_url, recording_hosts=hosts)

    def check_url(self, url: str) -> tuple[str, int]:
        """Return (host, port) if the URL's scheme and host are allowed; else Refused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Refused(f"not a valid URL: {exc}") from None
        if parts.scheme not in _DEFAULT_PORTS:
            raise Refused(f"scheme {parts.scheme or '(none)'!r} is not http or https")
        host = (parts.hostname or "").lower()
        if not host:
            raise Refused("URL has no host")
        if parts.username or parts.password:
            raise Refused("URLs with credentials are refused")
        port = port or _DEFAULT_PORTS[parts.scheme]
        if host not in self.ports:
            allowed = ", ".join(sorted(self.ports)) or "(none)"
            raise Refused(f"host {host} is not allowed for this account (allowed: {allowed})")
        ports = self.ports[host]
        if ports is not None and port not in ports:
            raise Refused(f"port {port} of {host} is not allowed")
        return host, port

    def check_address(self, host: str, address: str) -> None:
        """Refuse an address `host` resolved to, per the rules in the module docstring."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            raise Refused(f"{host} resolves to {ip}, a link-local/reserved address: never fetched")
        if not ip.is_global and host not in self.private_ok:
            raise Refused(
                f"{host} resolves to non-public address {ip}; list the host in "
                "recording_hosts to allow it"
            )

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """getaddrinfo, with every address checked; Refused if any is not allowed."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve {host}: {exc}") from None
        if not infos:
            raise FetchError(f"{host} resolves to nothing")
        for info in infos:
            self.check_address(host, info[4][0])
        return infos


def _split_host_port(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower()
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def _guarded_connect(conn: HTTPConnection, policy: HostPolicy) -> socket.socket:
    """Connect to a checked address of conn.host (replaces urllib3's own lookup)."""
    last: OSError | None = None
    for family, socktype, proto, _name, sockaddr in policy.resolve(conn.host, conn.port):
        sock = socket.socket(family, socktype, proto)
        try:
            if isinstance(conn.timeout, int | float):  # else urllib3's "default" sentinel
                sock.settimeout(conn.timeout)
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise NewConnectionError(conn, f"Failed to connect to {conn.host}: {last}")


def _session(policy: HostPolicy) -> requests.Session:
    """A requests session whose every connection goes through `policy`."""

    class GuardedHTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_connect(self, policy)

    class GuardedHTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_connect(self, policy)

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTP

    class SPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SPool}

    session = requests.Session()
    session.trust_env = False  # no environment proxies: they would resolve names for us
    adapter = Adapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


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
) -> Fetched:
    """Download `url` under `policy` into a temporary file (caller closes it)."""
    session = _session(policy)
    try:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            policy.check_url(current)
            try:
                response = session.get(current, stream=True, timeout=timeout, allow_redirects=False)
            except Refused:
                raise
            except requests.RequestException as exc:
                cause = exc.__context__ or exc
                # Our Refused raised inside the connection surfaces wrapped.
                while cause is not None and not isinstance(cause, Refused):
                    cause = cause.__context__
                if isinstance(cause, Refused):
                    raise cause from None
                raise FetchError(f"{type(exc).__name__}: {exc}") from None
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise FetchError("redirect without Location", permanent=True)
                    current = urljoin(current, location)
                    continue
                return _read(response, current, max_bytes)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", permanent=True)
    finally:
        session.close()


def _read(response: requests.Response, url: str, max_bytes: int) -> Fetched:
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
