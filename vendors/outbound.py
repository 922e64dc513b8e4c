"""The one host policy every outbound request passes: vendor API calls and
recording downloads alike.  Django-free: the console builds a `HostPolicy`
from its settings and an account, and hands vendor clients a `guarded_session`.

Rules (checked for every request, and again at connect time):

- scheme http or https only, no credentials in the URL;
- the host and port must be among the policy's hosts: a vendor client may
  reach its base_url's host:port and nothing else; a recording download also
  the account's recording_hosts ("host" = any port, "host:port" = that port);
- DNS is resolved here and EVERY resolved address is checked; the socket then
  connects to one of those checked addresses (no second lookup, so DNS
  rebinding between check and connect cannot slip in), while TLS still
  verifies the certificate for the host name;
- link-local (cloud metadata), multicast, unspecified and reserved addresses
  are always refused: no vendor lives there, and 169.254.169.254 is the first
  thing an attacker asks for;
- loopback and private addresses (anything not globally routable) only for an
  exact host:port in `private` (the deployment's OUTBOUND_PRIVATE_ALLOWLIST,
  for recordings further narrowed to host:port entries of recording_hosts):
  never per host, so allowing a sandbox on 127.0.0.1:8000 does not open
  127.0.0.1:6379 or the console's own port;
- redirects: vendor clients never follow them; recording downloads follow
  them by hand; and every hop a session sends goes through the adapter's
  check like the first URL, whoever follows it;
- environment proxies are ignored (a proxy would resolve names for us).

`Refused` (the policy said no; nothing was sent) is never worth a retry.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

__all__ = [
    "FetchError",
    "GuardedAdapter",
    "HostPolicy",
    "Refused",
    "guarded_session",
    "parse_host_port",
    "refusal_in",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

HostPort = tuple[str, int]


class FetchError(Exception):
    """An outbound request failed.  `permanent` is False when a later retry may succeed."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class Refused(FetchError):
    """The URL or an address it resolves to is not allowed: nothing was sent."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


def parse_host_port(entry: str) -> tuple[str, int | None]:
    """ "host", "host:port" or "[v6]:port" -> (lower-case host, port or None).

    Raises ValueError for an empty host or a port that is not 1-65535."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise ValueError(f"{entry!r}: expected [address]:port")
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    else:  # a bare name, IPv4 address or unbracketed IPv6 address
        host, port_text = entry, None
    if not host:
        raise ValueError(f"{entry!r} has no host")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _url_host_port(url: str) -> HostPort | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in DEFAULT_PORTS:
        return None
    return parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class HostPolicy:
    """Where outbound requests may go.

    hosts:   host -> allowed ports (None: any port).
    private: exact (host, port) pairs that may resolve to loopback/private addresses.
    """

    hosts: dict[str, frozenset[int] | None] = field(default_factory=dict)
    private: frozenset[HostPort] = frozenset()

    @classmethod
    def for_vendor_api(
        cls, *, base_url: str, private_allowlist: Iterable[HostPort] = ()
    ) -> HostPolicy:
        """A vendor client's policy: its base_url's host:port only."""
        target = _url_host_port(base_url)
        if target is None:
            return cls()
        host, port = target
        return cls(hosts={host: frozenset({port})}, private=frozenset(private_allowlist) & {target})

    @classmethod
    def for_recordings(
        cls,
        *,
        base_url: str,
        recording_hosts: Iterable[str] = (),
        private_allowlist: Iterable[HostPort] = (),
    ) -> HostPolicy:
        """A recording download's policy: base_url's host:port plus recording_hosts.

        A private address needs both the deployment's allowlist and a
        recording_hosts entry naming that exact host:port: base_url alone, or
        a bare host, never opens one."""
        ports: dict[str, set[int] | None] = {}
        target = _url_host_port(base_url)
        if target is not None:
            ports.setdefault(target[0], set()).add(target[1])  # type: ignore[union-attr]
        listed: set[HostPort] = set()
        for entry in recording_hosts:
            try:
                host, port = parse_host_port(str(entry))
            except ValueError:
                continue  # validated on save; an old bad entry just allows nothing
            if port is None:
                ports[host] = None
                continue
            listed.add((host, port))
            if ports.get(host, set()) is not None:
                ports.setdefault(host, set()).add(port)  # type: ignore[union-attr]
        frozen = {h: (None if p is None else frozenset(p)) for h, p in ports.items()}
        return cls(hosts=frozen, private=frozenset(private_allowlist) & listed)

    def check_url(self, url: str) -> HostPort:
        """Return (host, port) if the URL's scheme, host and port are allowed; else Refused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Refused(f"not a valid URL: {exc}") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise Refused(f"scheme {parts.scheme or '(none)'!r} is not http or https")
        host = (parts.hostname or "").lower()
        if not host:
            raise Refused("URL has no host")
        if parts.username or parts.password:
            raise Refused("URLs with credentials are refused")
        port = port or DEFAULT_PORTS[parts.scheme]
        if host not in self.hosts:
            allowed = ", ".join(sorted(self.hosts)) or "(none)"
            raise Refused(f"host {host} is not allowed here (allowed: {allowed})")
        ports = self.hosts[host]
        if ports is not None and port not in ports:
            raise Refused(f"port {port} of {host} is not allowed")
        return host, port

    def check_address(self, host: str, port: int, address: str) -> None:
        """Refuse an address `host`:`port` resolved to, per the module docstring's rules."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        # ::1 sits inside ::/8, which Python calls reserved: loopback is decided below.
        reserved = ip.is_reserved and not ip.is_loopback
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified or reserved:
            raise Refused(
                f"{host} resolves to {ip}, a link-local/reserved address: never contacted"
            )
        if not ip.is_global and (host, port) not in self.private:
            raise Refused(
                f"{_join(host, port)} resolves to non-public address {ip}; only host:port pairs "
                "the deployment allows (OUTBOUND_PRIVATE_ALLOWLIST) may reach one"
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
            self.check_address(host, port, info[4][0])
        return infos


def refusal_in(exc: BaseException) -> Refused | None:
    """The Refused behind `exc`, if the policy caused it (requests may wrap it)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, Refused):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _guarded_connect(conn: HTTPConnection, policy: HostPolicy) -> socket.socket:
    """Connect to a checked address of conn.host (replaces urllib3's own lookup)."""
    try:
        infos = policy.resolve(conn.host, conn.port)
    except Refused:
        raise
    except FetchError as exc:  # DNS failure: a connection error, as urllib3 would say
        raise NewConnectionError(conn, str(exc)) from None
    last: OSError | None = None
    for family, socktype, proto, _name, sockaddr in infos:
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


class GuardedAdapter(HTTPAdapter):
    """A transport that checks every request's URL and every connection's
    addresses against `policy`.  Subclass it (not a bare HTTPAdapter) to inject
    faults in tests without losing the policy."""

    def __init__(self, policy: HostPolicy, **kwargs: Any) -> None:
        self.policy = policy

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

        self._pools = {"http": Pool, "https": SPool}
        kwargs.setdefault("max_retries", 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.policy.check_url(request.url or "")
        if kwargs.get("proxies"):
            raise Refused("proxies are not used for outbound requests")
        return super().send(request, *args, **kwargs)


def guarded_session(policy: HostPolicy) -> requests.Session:
    """A requests session whose every request and connection goes through `policy`."""
    session = requests.Session()
    session.trust_env = False  # no environment proxies: they would resolve names for us
    adapter = GuardedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
