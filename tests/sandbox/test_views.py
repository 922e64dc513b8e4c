"""The /sandbox/ page, its forms, the JSON API, the recording files, and
ensure_sandbox_account."""

from __future__ import annotations

import wave
from io import BytesIO

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.selectors import webhook_urls
from sandbox import audio, services
from sandbox.models import SandboxBinding, SandboxCall, SandboxRequest
from tests.factories import PrivacyNumberFactory, VendorAccountFactory


@pytest.fixture
def igw_state(db):
    vendor_account = VendorAccountFactory(vendor="igw")
    PrivacyNumberFactory(vendor_account=vendor_account, number="+8617000000001")
    account = services.ensure_sandbox_account(vendor_account=vendor_account)
    # Callbacks to a closed port: deliveries fail fast and are recorded.
    account.callback_urls = {"cdr": "http://127.0.0.1:9/cdr/", "call-start": ""}
    account.save()
    binding, _ = services.binding_create(
        account=account,
        kind=SandboxBinding.Kind.AXB,
        x_number="17000000001",
        a_number="13800000001",
        b_number="13900000002",
        reqid="r",
    )
    return account, binding


def test_ensure_sandbox_account_mirrors(db):
    vendor_account = VendorAccountFactory(vendor="huawei", secret="s3cret")
    PrivacyNumberFactory(vendor_account=vendor_account, number="+8617000000009")
    account = services.ensure_sandbox_account(vendor_account=vendor_account)
    assert (account.vendor, account.account_id, account.app_id) == (
        "huawei",
        vendor_account.account_id,
        vendor_account.app_id,
    )
    assert account.secret == "s3cret"
    assert account.callback_urls == webhook_urls(account=vendor_account)
    assert set(account.callback_urls) == {"status", "cdr"}
    assert account.numbers == ["17000000009"]
    vendor_account.secret = "rotated"
    vendor_account.save()
    again = services.ensure_sandbox_account(vendor_account=vendor_account)
    assert again.pk == account.pk and again.secret == "rotated"
    # Stored encrypted.
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM sandbox_sandboxaccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("fernet:") and "rotated" not in raw


def test_page_needs_login_and_permission(staff_client, igw_state):
    url = reverse("sandbox:index")
    assert Client().get(url).status_code == 302
    assert staff_client.get(url).status_code == 403


def test_page_shows_state_and_never_secrets(operator_client, igw_state):
    account, binding = igw_state
    SandboxRequest.objects.create(
        vendor="igw",
        method="GET",
        path="/sandbox/igw/api/v1/account/status",
        verdict="auth_failed",
        vendor_code="1101",
        http_status=401,
    )
    response = operator_client.get(reverse("sandbox:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "auth_failed" in body and binding.subid in body
    assert account.secret not in body
    assert f"binding:{binding.pk}" in body


def test_nav_links_to_the_sandbox(operator_client, igw_state):
    assert (
        reverse("sandbox:index") in operator_client.get(reverse("sandbox:index")).content.decode()
    )


def test_place_call_button(operator_client, igw_state, monkeypatch):
    _, binding = igw_state
    calls = []
    monkeypatch.setattr(
        services, "play_call", lambda **kw: calls.append(kw) or SandboxCall(call_id="c1")
    )
    response = operator_client.post(
        reverse("sandbox:place_call"),
        {
            "target": f"binding:{binding.pk}",
            "outcome": "busy",
            "duration": "0",
            "direction": "b_to_a",
            "duplicate": "on",
            "recording_late_seconds": "5",
        },
    )
    assert response.status_code == 302
    (kw,) = calls
    assert kw["binding"] == binding and kw["outcome"] == "busy" and kw["sync"] is False
    assert kw["chaos"]["duplicate"] is True and kw["chaos"]["recording_late_seconds"] == 5
    assert kw["base_url"] == "http://testserver/sandbox"


def test_place_call_form_errors(operator_client, igw_state):
    response = operator_client.post(reverse("sandbox:place_call"), {"target": "binding:999999"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_chaos_form(operator_client, igw_state):
    account, _ = igw_state
    prefix = f"a{account.pk}"
    response = operator_client.post(
        reverse("sandbox:account_chaos", args=[account.pk]),
        {
            f"{prefix}-state": "1",
            f"{prefix}-max_bindings_per_x": "5",
            f"{prefix}-chaos_api_delay_ms": "0",
            f"{prefix}-chaos_api_fail_next": "2",
            f"{prefix}-chaos_api_timeout_next": "0",
            f"{prefix}-chaos_timeout_seconds": "12",
            f"{prefix}-chaos_delivery_delay_ms": "0",
            f"{prefix}-chaos_out_of_order": "on",
            f"{prefix}-chaos_recording_late_seconds": "0",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.chaos_api_fail_next == 2 and account.chaos_out_of_order
    assert account.max_bindings_per_x == 5


def test_api_play_and_read(operator_client, igw_state):
    account, binding = igw_state
    response = operator_client.post(
        "/sandbox/api/calls/",
        {"binding": binding.pk, "outcome": "answered", "duration": 5, "sync": True},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    call = response.json()
    assert call["status"] == "failed"  # the callback URL is closed
    deliveries = operator_client.get(f"/sandbox/api/calls/{call['id']}/deliveries/").json()
    assert deliveries[0]["event"] == "call-start"
    assert "no callback URL" in deliveries[0]["error"]
    assert operator_client.get("/sandbox/api/calls/").json()[0]["call_id"] == call["call_id"]
    assert operator_client.get("/sandbox/api/bindings/").json()[0]["subid"] == binding.subid
    accounts = operator_client.get("/sandbox/api/accounts/").json()
    assert "secret" not in accounts[0]
    patched = operator_client.patch(
        f"/sandbox/api/accounts/{account.pk}/",
        {"chaos_duplicate": True},
        content_type="application/json",
    )
    assert patched.json()["chaos_duplicate"] is True
    assert operator_client.get("/sandbox/api/requests/?vendor=igw").status_code == 200


def test_api_validation_and_permissions(operator_client, staff_user, igw_state):
    igw_state  # a binding exists
    bad = operator_client.post(
        "/sandbox/api/calls/", {"outcome": "answered"}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["message"] == "Validation error"
    staff = Client()
    staff.force_login(staff_user)
    assert staff.get("/sandbox/api/calls/").status_code == 403
    assert Client().get("/sandbox/api/calls/").status_code in (401, 403)


def test_recording_file_lasts_as_long_as_the_call(client, igw_state):
    _, binding = igw_state
    call = services.play_call(binding=binding, record=True, duration=30, retry_delays=(0, 0))
    response = client.get(reverse("sandbox:recording", args=[call.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    with wave.open(BytesIO(body)) as wav:
        assert wav.getnframes() / wav.getframerate() == 30.0
    assert client.get(reverse("sandbox:recording", args=["0" * 32])).status_code == 404


@pytest.mark.parametrize("seconds", [0, 0.01, 1.5, 2.75])
def test_wav_is_valid_and_seamless(seconds):
    data = audio.tone_wav(seconds)
    assert len(data) == audio.wav_size(seconds)
    with wave.open(BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        frames = wav.readframes(wav.getnframes())
    assert len(frames) == int(8000 * seconds) * 2
    # The chunked steady part equals the tone computed sample by sample.
    n = len(frames) // 2
    expected = b"".join(audio._sample(i, n, 440.0) for i in range(n))
    assert frames == expected


def test_vendor_endpoints_are_csrf_exempt_and_journal_bad_methods(client, igw_state):
    client.handler.enforce_csrf_checks = True
    response = client.post("/sandbox/igw/api/v1/account/status")
    assert response.status_code == 405
    assert SandboxRequest.objects.latest("id").verdict == "method_not_allowed"


@pytest.mark.parametrize("public_id", ["%00", "%C2%B2", "x" * 40])
def test_recording_path_no_call_can_have_is_404(client, db, public_id):
    assert client.get(f"/sandbox/recordings/{public_id}.wav").status_code == 404


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/sandbox/api/bindings/", {"account": "abc"}),
        ("/sandbox/api/bindings/", {"state": "\x00"}),
        ("/sandbox/api/calls/", {"account": "²"}),
        ("/sandbox/api/requests/", {"verdict": "\x00"}),
    ],
)
def test_api_lists_refuse_unusable_filters(operator_client, path, params):
    response = operator_client.get(path, params)
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == set(params)


def test_page_says_which_filter_is_unusable(operator_client, igw_state):
    response = operator_client.get(reverse("sandbox:index"), {"vendor": "\x00"})
    assert response.status_code == 200
    assert "vendor: " in response.content.decode()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/sandbox/ccp/2013-12-26/Accounts/%00/AccountInfo?sig=1", ""),
        ("put", "/sandbox/igw/igw/service/uc/interline/%00?appid=a", "x=1"),
        ("get", "/sandbox/igw/api/v1/account/status?appid=%00", ""),
        ("post", "/sandbox/cyj/20171220/bind/callEvent/v1?sig=1", '{"Caller": "\\u0000"}'),
        ("post", "/sandbox/huawei/rest/httpsessions/callVerify/v1.0", '{"a": "b\x00"}'),
    ],
)
def test_vendor_endpoints_refuse_nul_with_a_400_and_journal_it(client, db, method, path, body):
    if method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400
    journaled = SandboxRequest.objects.get()
    assert journaled.verdict == "invalid_params" and "\x00" not in journaled.path


def test_superscript_digits_are_refused_not_a_crash():
    from datetime import UTC, datetime

    from sandbox import cyj, igw
    from sandbox.protocol import Rejection

    with pytest.raises(Rejection):
        cyj.end_time("²", now=datetime.now(UTC))
    with pytest.raises(Rejection):
        cyj.end_time("9" * 5000, now=datetime.now(UTC))
    with pytest.raises(Rejection):
        igw._int({"ttl": "²"}, "ttl", default=0, allowed=range(1, 10))


def test_bodies_nested_too_deep_to_parse_are_invalid_params(rf):
    from sandbox import ccp, cyj
    from sandbox.protocol import Exchange, Rejection

    deep = "[" * 100_000 + "]" * 100_000
    request = rf.post("/sandbox/x", data=deep, content_type="application/json")
    with pytest.raises(Rejection):
        ccp.parse_body(Exchange(request=request, vendor="ccp"))
    with pytest.raises(Rejection):
        cyj._body(Exchange(request=request, vendor="cyj"))


@pytest.mark.parametrize(
    "chaos", [{"delay_ms": 10**20}, {"recording_late_seconds": 10**20}, {"delay_ms": -1}]
)
def test_api_play_refuses_unbounded_chaos(operator_client, igw_state, chaos):
    _, binding = igw_state
    response = operator_client.post(
        "/sandbox/api/calls/",
        {"binding": binding.pk, "sync": True, "chaos": chaos},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "chaos" in response.json()["extra"]["fields"]
    assert not SandboxCall.objects.exists()


@pytest.mark.django_db
def test_vendor_routes_come_from_the_vendor_modules(client):
    # Unknown vendor, unknown path under a vendor, wrong method: 404, 404, 405.
    assert client.get("/sandbox/nope/api/v1/account/status").status_code == 404
    assert client.get("/sandbox/igw/no/such/endpoint").status_code == 404
    response = client.post("/sandbox/igw/api/v1/account/status")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert client.get("/sandbox/igw/api/v1/account/status").status_code == 401  # not signed
