"""vendor_client is the one place clients are built: every vendor call the console
makes (status check, sub-accounts, bind/release) passes the outbound host policy,
and a reply that is not the vendor's envelope reaches users only as a description.

The "vendor" here is a real HTTP server on 127.0.0.1 that records what it got:
it stands for whatever an operator points an account's base_url at.
"""

import pytest

from accounts import selectors, services
from privacy import services as privacy_services
from tests.callbacks.http_fixture import Reply, Server
from tests.factories import PrivacyNumberFactory, VendorAccountFactory
from vendors import OutboundRefused

pytestmark = pytest.mark.django_db

LEAK = "INTERNAL-ONLY-DATA: db_password=hunter2"
PAGE = f"<html><body>no error in '{LEAK}'</body></html>".encode()
DESCRIBED = f"unexpected answer (HTTP 200, {len(PAGE)} bytes, text/html)"


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def reflector(server):
    """An internal service that answers every path with a page quoting secrets."""
    server.routes["*"] = Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
    return server


def test_status_check_to_an_unlisted_loopback_port_is_refused_and_sends_nothing(reflector):
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    services.vendor_account_check_status(account=account)
    assert account.status_error.startswith("igw error refused: ")
    assert "non-public address 127.0.0.1" in account.status_error
    assert reflector.requests == []


def test_allowing_one_port_does_not_open_another(reflector, allow_outbound):
    allow_outbound(f"127.0.0.1:{reflector.port + 1}")
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    services.vendor_account_check_status(account=account)
    assert "refused" in account.status_error and reflector.requests == []


def test_metadata_address_is_refused_even_when_allowlisted(allow_outbound):
    allow_outbound("169.254.169.254:80")
    account = VendorAccountFactory(vendor="igw", base_url="http://169.254.169.254/latest")
    services.vendor_account_check_status(account=account)
    assert "refused" in account.status_error and "link-local" in account.status_error


def test_allowlisted_reflector_is_reached_but_never_quoted(reflector, allow_outbound):
    allow_outbound(reflector.host)
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    services.vendor_account_check_status(account=account)
    assert len(reflector.requests) == 1  # a ResponseError is never retried
    assert account.status_error == f"igw error unparseable: {DESCRIBED} [HTTP 200]"
    assert LEAK not in account.status_error


def test_redirects_are_not_followed(server, allow_outbound):
    allow_outbound(server.host)
    server.routes["*"] = Reply(302, b"", {"Location": server.url("/healthz")})
    account = VendorAccountFactory(vendor="igw", base_url=server.url("/api"))
    services.vendor_account_check_status(account=account)
    assert "HTTP 302" in account.status_error
    assert [path for path, _host in server.requests] == ["/api/api/v1/account/status"]


def test_sub_account_creation_passes_the_policy(reflector, django_capture_on_commit_callbacks):
    account = VendorAccountFactory(vendor="ccp", base_url=reflector.url("/ccp"))
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.sub_account_create(vendor_account=account, friendly_name="shop")
    sub.refresh_from_db()
    assert (sub.state, sub.failure_code) == ("failed", "refused")
    assert reflector.requests == []


def test_clients_for_callbacks_cannot_send_anything(reflector, allow_outbound):
    allow_outbound(reflector.host)
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    with pytest.raises(OutboundRefused):
        selectors.vendor_client(account=account, offline=True).account_status()
    assert reflector.requests == []


def _bind(account, django_capture_on_commit_callbacks):
    PrivacyNumberFactory(vendor_account=account, number="+8617100000001")
    with django_capture_on_commit_callbacks(execute=True):
        binding = privacy_services.binding_create(
            kind="axb",
            vendor_account=account,
            a_number="13800138000",
            b_number="13900139000",
            ttl=600,
        )
    binding.refresh_from_db()
    return binding


def test_bind_to_an_unlisted_loopback_port_fails_refused(
    reflector, django_capture_on_commit_callbacks
):
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    binding = _bind(account, django_capture_on_commit_callbacks)
    assert (binding.state, binding.failure_code) == ("failed", "refused")
    assert "non-public address" in binding.failure_text
    assert reflector.requests == []


def test_binding_failure_shows_only_a_description_of_the_reflected_page(
    reflector, allow_outbound, django_capture_on_commit_callbacks, staff_api
):
    """The issue's case: GET /api/v1/bindings/<id>/ quoted the internal answer."""
    allow_outbound(reflector.host)
    account = VendorAccountFactory(vendor="igw", base_url=reflector.url("/reflect"))
    binding = _bind(account, django_capture_on_commit_callbacks)
    assert binding.state == "failed" and len(reflector.requests) == 1
    response = staff_api.get(f"/api/v1/bindings/{binding.pk}/")
    assert response.status_code == 200
    assert response.json()["failure"]["text"] == DESCRIBED
    assert LEAK not in response.content.decode()
