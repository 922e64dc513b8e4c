"""The outbound host policy as vendor clients meet it (a guarded session), and how
a reply that is not a vendor's envelope is shown: described, never quoted."""

from __future__ import annotations

import socket
from unittest import mock

import pytest

from vendors import OutboundRefused, ResponseError, TemporaryError, VendorError
from vendors.ccp import CcpClient
from vendors.igw import IgwClient
from vendors.outbound import HostPolicy, Refused, guarded_session, parse_host_port

LEAK = "INTERNAL-ONLY-DATA: db_password=hunter2"
PAGE = f"<html><body>{LEAK}</body></html>"


def host_port(base_url: str) -> tuple[str, int]:
    host, port = parse_host_port(base_url.split("://", 1)[1].split("/", 1)[0])
    assert port is not None
    return host, port


def igw(base_url: str, retry, *, allow: tuple = ()) -> IgwClient:
    """An igw client whose session carries the policy the console would give it."""
    policy = HostPolicy.for_vendor_api(base_url=base_url, private_allowlist=allow)
    return IgwClient(
        base_url=base_url,
        account_id="10000000",
        secret="k",
        app_id="a",
        retry=retry,
        session=guarded_session(policy),
    )


def test_loopback_port_not_on_the_allowlist_is_refused_and_nothing_is_sent(
    vendor_server, fast_retry
) -> None:
    client = igw(vendor_server.base_url + "/reflect", fast_retry)
    with pytest.raises(OutboundRefused) as err:
        client.account_status()
    assert "refused" in str(err.value) and "127.0.0.1" in str(err.value)
    assert not err.value.retryable
    assert vendor_server.requests == []


def test_another_port_of_an_allowed_host_is_refused(vendor_server, fast_retry) -> None:
    host, port = host_port(vendor_server.base_url)
    client = igw(vendor_server.base_url, fast_retry, allow=((host, port + 1),))
    with pytest.raises(OutboundRefused):
        client.account_status()
    assert vendor_server.requests == []


def test_allowlisted_host_port_is_reached(vendor_server, fast_retry) -> None:
    vendor_server.answer(200, {"error": 0, "state": 1, "balance": "1.5"})
    client = igw(vendor_server.base_url, fast_retry, allow=(host_port(vendor_server.base_url),))
    assert client.account_status().state == "active"
    assert len(vendor_server.requests) == 1


def test_metadata_address_is_refused_even_when_allowlisted(fast_retry) -> None:
    client = igw("http://169.254.169.254/latest", fast_retry, allow=(("169.254.169.254", 80),))
    with pytest.raises(OutboundRefused, match="link-local"):
        client.account_status()


def test_name_resolving_to_a_private_address_is_refused_at_connect_time(fast_retry) -> None:
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "vendor.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]
        return real(host, port, *args, **kwargs)

    client = igw("https://vendor.example.com/api", fast_retry)
    with (
        mock.patch("socket.getaddrinfo", resolve),
        pytest.raises(OutboundRefused, match=r"10\.1\.2\.3"),
    ):
        client.account_status()


def test_unknown_host_is_a_network_error_not_a_crash(fast_retry) -> None:
    client = igw("https://no-such-host.invalid/api", fast_retry)
    with pytest.raises(TemporaryError):
        client.account_status()


def test_the_session_refuses_every_host_but_the_base_urls(vendor_server) -> None:
    allow = (host_port(vendor_server.base_url),)
    session = guarded_session(
        HostPolicy.for_vendor_api(base_url=vendor_server.base_url, private_allowlist=allow)
    )
    with pytest.raises(Refused, match="not allowed"):
        session.get("https://elsewhere.example.com/")
    with pytest.raises(Refused, match=r"port 1 of 127\.0\.0\.1"):
        session.get("http://127.0.0.1:1/")


def test_redirects_are_not_followed(vendor_server, fast_retry) -> None:
    vendor_server.answer(302, b"", content_type="text/html")
    vendor_server.script[-1][1]["Location"] = vendor_server.base_url + "/healthz"
    client = igw(vendor_server.base_url, fast_retry, allow=(host_port(vendor_server.base_url),))
    with pytest.raises(VendorError, match=r"HTTP 302"):
        client.account_status()
    assert [r.path for r in vendor_server.requests] == ["/api/v1/account/status"]


def test_a_page_instead_of_the_envelope_is_described_not_quoted(
    vendor_server, fast_retry, caplog
) -> None:
    vendor_server.answer(200, PAGE, content_type="text/html; charset=utf-8")
    client = igw(vendor_server.base_url, fast_retry, allow=(host_port(vendor_server.base_url),))
    with caplog.at_level("INFO", logger="vendors"), pytest.raises(ResponseError) as err:
        client.account_status()
    size = len(PAGE.encode())
    assert err.value.message == f"unexpected answer (HTTP 200, {size} bytes, text/html)"
    assert LEAK not in str(err.value) and LEAK not in caplog.text
    assert len(vendor_server.requests) == 1  # a ResponseError is not retried


def test_the_body_is_logged_at_debug_only_truncated(vendor_server, fast_retry, caplog) -> None:
    vendor_server.answer(200, PAGE + "x" * 5000, content_type="text/html")
    client = igw(vendor_server.base_url, fast_retry, allow=(host_port(vendor_server.base_url),))
    with caplog.at_level("DEBUG", logger="vendors"), pytest.raises(ResponseError):
        client.account_status()
    (debug,) = [r for r in caplog.records if r.levelname == "DEBUG"]
    assert LEAK in debug.getMessage() and len(debug.getMessage()) < 1000


def test_error_pages_and_odd_content_types_are_not_echoed(vendor_server, fast_retry) -> None:
    vendor_server.answer(500, PAGE, content_type=f"text/{LEAK}")
    client = igw(vendor_server.base_url, fast_retry, allow=(host_port(vendor_server.base_url),))
    client.retry = type(fast_retry)(max_attempts=1)
    with pytest.raises(TemporaryError) as err:
        client.account_status()
    assert LEAK not in str(err.value)
    assert "unexpected answer (HTTP 500" in str(err.value)
    assert "unrecognized content type" in str(err.value)


def test_ccp_unparseable_answer_is_described(vendor_server, fast_retry) -> None:
    vendor_server.answer(200, PAGE, content_type="text/html")
    policy = HostPolicy.for_vendor_api(
        base_url=vendor_server.base_url, private_allowlist=(host_port(vendor_server.base_url),)
    )
    client = CcpClient(
        base_url=vendor_server.base_url,
        account_id="a" * 32,
        secret="t" * 32,
        app_id="app",
        retry=fast_retry,
        session=guarded_session(policy),
    )
    with pytest.raises(VendorError) as err:
        client.account_info()
    assert "unexpected answer (HTTP 200" in str(err.value) and LEAK not in str(err.value)


def test_ipv6_loopback_is_private_not_reserved() -> None:
    """::1 lies in ::/8, which Python calls reserved; it must be allowlistable like 127.0.0.1."""
    policy = HostPolicy.for_vendor_api(
        base_url="http://[::1]:8000/api", private_allowlist=(("::1", 8000),)
    )
    policy.check_address("::1", 8000, "::1")
    with pytest.raises(Refused, match=r"\[::1\]:8001 resolves to non-public"):
        policy.check_address("::1", 8001, "::1")
    with pytest.raises(Refused, match="link-local"):
        policy.check_address("::1", 8000, "fe80::1")


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost:8000", ("localhost", 8000)),
        ("[::1]:8443", ("::1", 8443)),
        ("cdn.example.net", ("cdn.example.net", None)),
    ],
)
def test_parse_host_port(entry, parsed) -> None:
    assert parse_host_port(entry) == parsed


@pytest.mark.parametrize("entry", ["", ":80", "host:0", "host:99999", "host:http", "[::1]x"])
def test_parse_host_port_refuses_nonsense(entry) -> None:
    with pytest.raises(ValueError):
        parse_host_port(entry)
