"""A vendor is one plug-in: the made-up vendor of tests/plugin_vendor/ (a client
class and a sandbox module, nothing else) is registered here and driven through
the console over real HTTP: account creation through the REST API and the
service, its settings validated from its own declaration, a status check
against its sandbox, and a played call whose signed CDR reaches
/callbacks/<token>/cdr/ and becomes a CallRecord; and its binding kind, declared
on its client class, created through the privacy API, bound and released by the
(eager) worker against its sandbox routes.  No migration, no edit in accounts/,
callbacks/, privacy/, sandbox/ or the registry's own module.
"""

import pytest
import requests
from django.core.exceptions import ValidationError
from django.urls import reverse

import vendors
from accounts import services as accounts
from callbacks import services as callbacks
from callbacks.models import CallRecord, Delivery
from privacy.models import Binding
from sandbox import services as sandbox
from sandbox.models import SandboxBinding, SandboxCall, SandboxDelivery, SandboxRequest
from sandbox.protocol import base_path
from tests.factories import PrivacyNumberFactory
from tests.plugin_vendor.vendor import AcmeClient, body_signature


@pytest.fixture
def acme():
    vendors.register(AcmeClient)
    try:
        yield AcmeClient
    finally:
        vendors.unregister(AcmeClient.code)


def _create(operator_api, live_server, **fields):
    payload = {
        "vendor": "acme",
        "name": "Acme one",
        "base_url": live_server.url + base_path("acme"),
        "account_id": "acme-1",
        "secret": "acme-secret-1",
        **fields,
    }
    return operator_api.post("/api/v1/vendor-accounts/", payload, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_made_up_vendor_works_end_to_end(acme, live_server, settings, operator_api):
    settings.PUBLIC_BASE_URL = live_server.url

    # Created through the API: the vendor choice comes from the registry.
    response = _create(operator_api, live_server, extra={"region": "east"})
    assert response.status_code == 201, response.content
    account = accounts.VendorAccount.objects.get(pk=response.json()["id"])
    assert set(response.json()["webhook_urls"]) == {"cdr"}

    # Its own settings are checked from its own declaration.
    bad = _create(operator_api, live_server, name="Acme two", extra={"region": "north"})
    assert bad.status_code == 400
    assert "'region' must be one of east, west." in str(bad.json())
    with pytest.raises(ValidationError, match="push_signature"):
        accounts.vendor_account_create(
            vendor="acme",
            name="Acme three",
            base_url="https://acme.example",
            account_id="x",
            secret="y",
            extra={"push_signature": "verify"},  # another vendor's setting
        )

    # Status through its sandbox routes, over real HTTP.
    sandbox_account = sandbox.ensure_sandbox_account(vendor_account=account)
    account = accounts.vendor_account_check_status(account=account)
    assert (account.status_state, account.status_error) == ("active", "")
    assert account.status_balance == sandbox_account.balance
    assert SandboxRequest.objects.filter(vendor="acme", verdict="ok").count() == 1

    # A played call: the sandbox signs and POSTs its CDR to our webhook.
    call = sandbox.call_request(
        account=sandbox_account,
        kind=SandboxCall.Kind.CALLBACK,
        caller="13800000001",
        callee="13900000002",
    )
    sandbox.play_call(call=call, duration=42, retry_delays=())
    record = CallRecord.objects.get(vendor="acme")
    assert (record.call_id, record.outcome, record.duration) == (call.call_id, "answered", 42)
    assert record.callee == "+8613900000002"
    sent = SandboxDelivery.objects.get(call=call)
    assert (sent.http_status, sent.response_body) == (200, '{"received":true}')  # its ack

    # A forged CDR is refused by its own authentication, and kept.
    url = f"{live_server.url}/callbacks/{account.webhook_token}/cdr/"
    body = b'{"call_id": "forged", "outcome": "answered"}'
    forged = requests.post(url, data=body, headers={"X-Acme-Signature": "0" * 64}, timeout=10)
    assert forged.status_code == 401
    refused = Delivery.objects.get(vendor="acme", outcome="rejected_auth")
    assert bytes(refused.body) == body
    assert refused.headers["X-Acme-Signature"] == "0" * 64  # kept whole: callback_headers
    signed = requests.post(
        url,
        data=body,
        headers={"X-Acme-Signature": body_signature("acme-secret-1", body)},
        timeout=10,
    )
    assert signed.status_code == 200
    assert CallRecord.objects.filter(vendor="acme", call_id="forged").exists()


@pytest.mark.django_db
def test_the_console_offers_what_the_made_up_vendor_declares(acme, operator_client):
    account = accounts.vendor_account_create(
        vendor="acme", name="Acme", base_url="https://acme.example", account_id="a", secret="s"
    )
    page = operator_client.get(reverse("accounts:vendor_account_detail", args=[account.pk]))
    html = page.content.decode()
    assert "Check status at the vendor" in html  # supports_account_status
    assert "Sub-accounts" not in html  # supports_sub_accounts is False
    form = operator_client.get(reverse("accounts:vendor_account_create")).content.decode()
    assert 'value="acme"' in form
    assert "region (acme): ACME region." in form
    assert "acme account ID / secret / app ID" in form  # the default credential names
    assert "ccp accountSid / authToken / appId" in form


def test_an_unregistered_vendor_is_gone(acme):
    vendors.unregister("acme")
    assert "acme" not in dict(vendors.choices())
    vendors.register(AcmeClient)  # the fixture removes it again


@pytest.mark.django_db(transaction=True)
def test_a_replay_re_checks_the_made_up_vendors_signature(acme, live_server, settings):
    # Signed with a rotated secret the console does not know yet: refused, kept.
    account = accounts.vendor_account_create(
        vendor="acme", name="Acme", base_url="https://acme.example", account_id="a", secret="old"
    )
    body = b'{"call_id": "late-1", "outcome": "no_answer"}'
    response = requests.post(
        f"{live_server.url}/callbacks/{account.webhook_token}/cdr/",
        data=body,
        headers={"X-Acme-Signature": body_signature("new", body)},
        timeout=10,
    )
    assert response.status_code == 401
    # The operator enters the new secret and replays: its signature header was kept.
    accounts.vendor_account_update(account=account, secret="new")
    delivery = callbacks.delivery_replay(delivery=Delivery.objects.get(vendor="acme"))
    assert delivery.outcome == "accepted", delivery.reason
    assert CallRecord.objects.get(call_id="late-1").outcome == "no_answer"


@pytest.mark.django_db
def test_a_vendor_without_a_sandbox_module_is_404_there(client):
    class Bare(AcmeClient):
        code = "bare"
        sandbox_module = "tests.plugin_vendor.no_such_module"
        binding_kinds = ()  # acme's kind is acme's: a second vendor may not declare it

    vendors.register(Bare)
    try:
        assert client.get("/sandbox/bare/api/v1/status").status_code == 404
    finally:
        vendors.unregister("bare")


@pytest.mark.django_db
def test_an_account_whose_vendor_left_the_registry_still_shows(acme, operator_client):
    account = accounts.vendor_account_create(
        vendor="acme", name="Acme", base_url="https://acme.example", account_id="a", secret="s"
    )
    vendors.unregister("acme")  # e.g. a plug-in removed from the deployment
    page = operator_client.get(reverse("accounts:vendor_account_detail", args=[account.pk]))
    assert page.status_code == 200
    assert "Check status at the vendor" not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_made_up_vendors_binding_kind_binds_and_releases(acme, live_server, operator_api):
    account = accounts.vendor_account_create(
        vendor="acme",
        name="Acme",
        base_url=live_server.url + base_path("acme"),
        account_id="acme-1",
        secret="acme-secret-1",
    )
    x = PrivacyNumberFactory(vendor_account=account, number="+8617000000001")
    sandbox.ensure_sandbox_account(vendor_account=account)

    # Its own rules: a kind that takes no call direction refuses one.
    refused = operator_api.post(
        "/api/v1/bindings/",
        {"kind": "acme", "vendor_account": account.pk, "a_number": "13800000001", "direct": 1},
        format="json",
    )
    assert refused.status_code == 400
    assert "acme pair bindings take no call direction." in str(refused.json())

    # Created through the API; the task (eager here) binds over real HTTP.
    response = operator_api.post(
        "/api/v1/bindings/",
        {
            "kind": "acme",
            "vendor_account": account.pk,
            "a_number": "13800000001",
            "b_number": "13900000002",
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    binding = Binding.objects.get(pk=response.json()["id"])
    assert (binding.state, binding.ttl) == ("active", 3600), binding.failure_text
    pair = SandboxBinding.objects.get(kind="acme")
    assert (pair.a_number, pair.b_number, pair.reqid) == (
        "13800000001",
        "13900000002",
        binding.reqid,
    )
    assert binding.vendor_binding_id == pair.subid
    assert (binding.x_number, pair.x_number) == (x, "17000000001")  # allocated from the pool
    assert SandboxRequest.objects.get(vendor="acme", method="POST").verdict == "ok"

    # Release is a vendor call: releasing, then the worker's DELETE makes it released.
    response = operator_api.post(f"/api/v1/bindings/{binding.pk}/release/")
    assert response.status_code == 202, response.content
    binding.refresh_from_db()
    pair.refresh_from_db()
    assert (binding.state, pair.state) == ("released", "released")
    assert SandboxRequest.objects.get(vendor="acme", method="DELETE").verdict == "ok"
    assert list(binding.transitions.values_list("to_state", flat=True)) == [
        "pending",
        "active",
        "releasing",
        "released",
    ]
