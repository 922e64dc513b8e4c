"""The SSRF guard for recordings: only the account's hosts, internal addresses only
at an exact host:port both the deployment and recording_hosts allow, checked at
every redirect and against every resolved address."""

import socket
from unittest import mock

import pytest

from callbacks import ssrf
from tests.callbacks.http_fixture import WAV, Reply, Server
from vendors.outbound import parse_host_port


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def policy(base_url="https://vendor.example.com", hosts=(), allow=()):
    """`allow` stands for the deployment's OUTBOUND_PRIVATE_ALLOWLIST."""
    return ssrf.HostPolicy.for_recordings(
        base_url=base_url,
        recording_hosts=hosts,
        private_allowlist={parse_host_port(entry) for entry in allow},
    )


def served(server):
    """The policy of an account whose recordings come from `server` on loopback."""
    return policy(hosts=[server.host], allow=[server.host])


def fake_dns(mapping):
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in mapping:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in mapping[host]
            ]
        return real(host, port, *args, **kwargs)

    return mock.patch("socket.getaddrinfo", resolve)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/rec.wav",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/rec.wav",
        "http://[::1]/rec.wav",
        "http://other.example.com/rec.wav",
        "http://vendor.example.com:8080/rec.wav",  # base_url's host, another port
        "file:///etc/passwd",
        "ftp://vendor.example.com/rec.wav",
        "https://user:pw@vendor.example.com/rec.wav",
        "http:///rec.wav",
    ],
)
def test_urls_outside_the_account_are_refused(url):
    with pytest.raises(ssrf.Refused):
        ssrf.fetch(url, policy=policy(), max_bytes=1000)


def test_base_url_host_and_port_are_allowed():
    assert policy().check_url("https://vendor.example.com/r/1.wav") == ("vendor.example.com", 443)
    p = policy("https://app.cloopen.com:8883/2013-12-26")
    assert p.check_url("https://app.cloopen.com:8883/rec.wav") == ("app.cloopen.com", 8883)
    with pytest.raises(ssrf.Refused):
        p.check_url("https://app.cloopen.com/rec.wav")


def test_recording_hosts_entries():
    p = policy(hosts=["cdn.example.net", "rec.example.org:8443"])
    p.check_url("https://cdn.example.net:9999/x.wav")  # bare host: any port
    p.check_url("https://rec.example.org:8443/x.wav")
    with pytest.raises(ssrf.Refused):
        p.check_url("https://rec.example.org/x.wav")


def test_metadata_address_is_refused_even_when_listed():
    p = policy(hosts=["169.254.169.254:80"], allow=["169.254.169.254:80"])
    with pytest.raises(ssrf.Refused, match="link-local"):
        ssrf.fetch("http://169.254.169.254/latest/", policy=p, max_bytes=1000)


def test_private_address_only_for_an_exact_host_port_listed_twice():
    allow = ["10.0.0.5:8443"]
    # base_url alone, even on the deployment's allowlist, does not open it for recordings
    with pytest.raises(ssrf.Refused, match="non-public"):
        policy("https://10.0.0.5:8443", allow=allow).check_address("10.0.0.5", 8443, "10.0.0.5")
    # recording_hosts alone cannot open what the deployment does not allow
    with pytest.raises(ssrf.Refused, match="non-public"):
        policy(hosts=allow).check_address("10.0.0.5", 8443, "10.0.0.5")
    # a bare host grants no private port at all
    with pytest.raises(ssrf.Refused, match="non-public"):
        policy(hosts=["10.0.0.5"], allow=allow).check_address("10.0.0.5", 8443, "10.0.0.5")
    policy(hosts=allow, allow=allow).check_address("10.0.0.5", 8443, "10.0.0.5")
    with pytest.raises(ssrf.Refused, match="non-public"):
        policy(hosts=allow, allow=allow).check_address("10.0.0.5", 8444, "10.0.0.5")


def test_recording_hosts_port_does_not_open_another_port_of_the_host(server):
    """Issue 8a: listing 127.0.0.1:8871 opened 127.0.0.1:8870 (here: the base_url's
    server, allowed to the deployment for the vendor API) and redirects to it."""
    other = Server()
    try:
        other.routes["/rec.wav"] = Reply()
        other.routes["/healthz"] = Reply(body=b"ok", headers={"Content-Type": "text/plain"})
        p = policy(
            f"http://{other.host}/sandbox/igw",
            hosts=[server.host],
            allow=[server.host, other.host],
        )
        with pytest.raises(ssrf.Refused, match="non-public"):
            ssrf.fetch(other.url("/rec.wav"), policy=p, max_bytes=10**6)
        server.routes["/rec.wav"] = Reply(302, b"", {"Location": other.url("/healthz")})
        with pytest.raises(ssrf.Refused, match="non-public"):
            ssrf.fetch(server.url("/rec.wav"), policy=p, max_bytes=10**6)
        assert other.requests == []
        assert [path for path, _host in server.requests] == ["/rec.wav"]
    finally:
        other.close()


def test_recording_host_not_on_the_deployment_allowlist_is_refused(server):
    server.routes["/rec.wav"] = Reply()
    with pytest.raises(ssrf.Refused, match="OUTBOUND_PRIVATE_ALLOWLIST"):
        ssrf.fetch(server.url("/rec.wav"), policy=policy(hosts=[server.host]), max_bytes=10**6)
    assert server.requests == []


def test_base_url_on_loopback_is_not_enough(server):
    p = policy(f"http://{server.host}", allow=[server.host])
    with pytest.raises(ssrf.Refused, match="non-public"):
        ssrf.fetch(server.url("/rec.wav"), policy=p, max_bytes=10_000)
    assert server.requests == []


def test_dns_name_resolving_to_loopback_is_refused(server):
    p = policy("https://vendor.example.com")
    with (
        fake_dns({"vendor.example.com": ["127.0.0.1"]}),
        pytest.raises(ssrf.Refused, match=r"127\.0\.0\.1"),
    ):
        ssrf.fetch("https://vendor.example.com/rec.wav", policy=p, max_bytes=1000)


def test_every_resolved_address_is_checked():
    p = policy("https://vendor.example.com")
    with (
        fake_dns({"vendor.example.com": ["93.184.216.34", "10.1.1.1"]}),
        pytest.raises(ssrf.Refused, match=r"10\.1\.1\.1"),
    ):
        ssrf.fetch("https://vendor.example.com/rec.wav", policy=p, max_bytes=1000)


def test_ipv4_mapped_loopback_is_refused():
    with pytest.raises(ssrf.Refused):
        policy().check_address("vendor.example.com", 443, "::ffff:127.0.0.1")


def test_connection_goes_to_the_checked_address(server):
    """No second DNS lookup: the socket connects to what was checked (no rebinding)."""
    server.routes["/rec.wav"] = Reply()
    name = f"rec.vendor.test:{server.port}"
    p = policy(hosts=[name], allow=[name])
    with fake_dns({"rec.vendor.test": ["127.0.0.1"]}):
        got = ssrf.fetch(f"http://rec.vendor.test:{server.port}/rec.wav", policy=p, max_bytes=10**6)
    assert got.file.read() == WAV
    assert server.requests == [("/rec.wav", f"rec.vendor.test:{server.port}")]


def test_allowed_fetch_streams_with_sha256(server):
    import hashlib

    server.routes["/rec.wav"] = Reply()
    got = ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)
    assert got.size == len(WAV)
    assert got.sha256 == hashlib.sha256(WAV).hexdigest()
    assert got.content_type == "audio/wav"


def test_redirect_to_a_private_host_is_refused(server):
    server.routes["/rec.wav"] = Reply(302, b"", {"Location": "http://10.0.0.1/secret"})
    with pytest.raises(ssrf.Refused):
        ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)


def test_redirect_to_metadata_is_refused(server):
    server.routes["/rec.wav"] = Reply(
        307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    with pytest.raises(ssrf.Refused):
        ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)


def test_redirect_to_another_host_is_refused(server):
    server.routes["/rec.wav"] = Reply(301, b"", {"Location": "https://evil.example.net/x"})
    with pytest.raises(ssrf.Refused, match=r"evil\.example\.net"):
        ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)


def test_redirect_within_the_allowed_host_is_followed(server):
    server.routes["/rec.wav"] = Reply(302, b"", {"Location": "/files/rec.wav"})
    server.routes["/files/rec.wav"] = Reply()
    got = ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)
    assert got.url.endswith("/files/rec.wav") and got.size == len(WAV)


def test_redirect_loop_stops(server):
    server.routes["/loop"] = Reply(302, b"", {"Location": "/loop"})
    with pytest.raises(ssrf.FetchError, match="redirects"):
        ssrf.fetch(server.url("/loop"), policy=served(server), max_bytes=10**6)


def test_size_cap_by_header_and_by_stream(server):
    server.routes["/big"] = Reply(body=b"x" * 5000)
    with pytest.raises(ssrf.FetchError, match="cap") as declared:
        ssrf.fetch(server.url("/big"), policy=served(server), max_bytes=1000)
    assert declared.value.permanent
    # Without a Content-Length the body is cut off while streaming.
    server.routes["/unsized"] = Reply(body=b"x" * 5000, omit_length=True)
    with pytest.raises(ssrf.FetchError, match="exceeds") as streamed:
        ssrf.fetch(server.url("/unsized"), policy=served(server), max_bytes=1000)
    assert streamed.value.permanent


def test_timeouts_are_transient(server):
    server.routes["/slow"] = Reply(delay=1.0)
    with pytest.raises(ssrf.FetchError) as err:
        ssrf.fetch(server.url("/slow"), policy=served(server), max_bytes=10**6, timeout=0.2)
    assert not err.value.permanent


def test_a_live_but_slow_download_ends_at_its_deadline(server):
    # Each piece comes well inside the read timeout, but the whole would take 4 s: the
    # deadline (the recording task's lease) cuts it off, as a transient failure.
    server.routes["/trickle"] = Reply(body=b"x" * 65536 * 8, trickle=0.5)
    with pytest.raises(ssrf.FetchError, match="deadline") as err:
        ssrf.fetch(server.url("/trickle"), policy=served(server), max_bytes=10**7, deadline=1.0)
    assert not err.value.permanent
    assert ssrf.fetch(server.url("/trickle"), policy=served(server), max_bytes=10**7).size == (
        65536 * 8
    )


def test_http_errors_carry_the_status(server):
    server.routes["/gone"] = Reply(410, b"gone", {})
    with pytest.raises(ssrf.FetchError) as err:
        ssrf.fetch(server.url("/gone"), policy=served(server), max_bytes=10**6)
    assert err.value.status == 410 and not err.value.permanent


def test_environment_proxies_are_ignored(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    server.routes["/rec.wav"] = Reply()
    got = ssrf.fetch(server.url("/rec.wav"), policy=served(server), max_bytes=10**6)
    assert got.size == len(WAV)
