"""The webhook view: every documented payload accepted and normalized, authentication,
limits, duplicates, ordering, and failures that must make the vendor retry."""

import base64
import json
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.db import OperationalError

from callbacks import services
from callbacks.models import CallbackNonce, CallEvent, CallRecord, Delivery
from tests.callbacks.conftest import (
    BEGIN,
    ccp_hangup,
    cyj_cdr,
    huawei_fee,
    huawei_headers,
    huawei_status,
    igw_call_start,
    igw_cdr,
    post_ccp,
    post_form,
    post_huawei,
    post_json,
    url_for,
)
from tests.factories import VendorAccountFactory
from vendors.igw import RESULT_OUTCOMES

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ igw


def test_igw_cdr_is_stored_raw_and_normalized(client, igw_account):
    response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 200
    assert response.json() == {"error": 0}
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.ACCEPTED
    assert delivery.kind == "cdr" and delivery.vendor == "igw"
    assert b"taskid=task-1" in bytes(delivery.body)
    assert delivery.source_ip == "127.0.0.1"
    assert delivery.call_ids == ["task-1"]
    record = CallRecord.objects.get()
    assert record.call_id == "task-1"
    assert record.caller == "+8613800138000"
    assert record.callee == "+8613900139000"
    assert record.x_number == "+8617012345678"
    assert record.outcome == "answered"
    assert record.raw_code == "answered"
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)
    assert record.ring_at == datetime.fromtimestamp(BEGIN + 3, UTC)
    assert record.answer_at == datetime.fromtimestamp(BEGIN + 8, UTC)
    assert record.release_at == datetime.fromtimestamp(BEGIN + 68, UTC)
    assert record.call_at == record.begin_at
    assert record.duration == 60
    assert record.release_side == "caller"
    assert record.user_data == "order-42"
    assert record.vendor_binding_id == "sub-1"
    assert record.has_cdr
    assert record.recording_status == "none"


@pytest.mark.parametrize("code", sorted(RESULT_OUTCOMES))
def test_every_igw_result_code_maps(client, igw_account, code):
    fields = igw_cdr(igw_account, taskid=f"t-{code}", result=code, answerTime="0")
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    record = CallRecord.objects.get(call_id=f"t-{code}")
    assert record.outcome == RESULT_OUTCOMES[code].value
    assert record.raw_code == code
    assert record.raw_text  # the document's text for the code


def test_igw_normal_clearing_with_answer_time_is_answered(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, result="16"))
    assert CallRecord.objects.get().outcome == "answered"


def test_igw_unknown_result_code_is_other(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, result="999"))
    record = CallRecord.objects.get()
    assert (record.outcome, record.raw_code) == ("other", "999")


def test_igw_json_cdr_is_accepted(client, igw_account):
    response = post_json(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 200
    assert CallRecord.objects.get().outcome == "answered"


def test_igw_call_start_creates_a_record_with_an_event(client, igw_account):
    response = post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert response.status_code == 200
    record = CallRecord.objects.get()
    assert not record.has_cdr and record.outcome == ""
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)
    event = CallEvent.objects.get()
    assert event.kind == "call_start" and event.call_record == record


def test_igw_wrong_devid_is_rejected_and_kept(client, igw_account):
    response = post_form(client, igw_account, "cdr", igw_cdr(igw_account, devid="99999999"))
    assert response.status_code == 401
    assert "10000000" not in response.content.decode()  # the expectation stays with us
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_AUTH
    assert "devid" in delivery.reason
    assert delivery.auth_expected == "devid=10000000"
    assert delivery.auth_received == "devid=99999999"
    assert not CallRecord.objects.exists()


def test_igw_wrong_appid_is_rejected(client, igw_account):
    response = post_form(client, igw_account, "cdr", igw_cdr(igw_account, appid="other"))
    assert response.status_code == 401


# ------------------------------------------------------------------ ip allowlist, proxies


def test_ip_allowlist_refuses_other_sources(client, igw_account):
    igw_account.extra = {"callback_ip_allowlist": ["10.1.0.0/16"]}
    igw_account.save()
    response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 401
    delivery = Delivery.objects.get()
    assert "allowlist" in delivery.reason and delivery.auth_received == "127.0.0.1"
    ok = post_form(client, igw_account, "cdr", igw_cdr(igw_account), REMOTE_ADDR="10.1.2.3")
    assert ok.status_code == 200


def test_ip_allowlist_uses_the_trusted_proxy_hop(client, igw_account, settings):
    settings.TRUSTED_PROXY = True
    igw_account.extra = {"callback_ip_allowlist": ["203.0.113.7"]}
    igw_account.save()
    # The client claims an allowed address on the left; our proxy appended the real one.
    spoofed = post_form(
        client,
        igw_account,
        "cdr",
        igw_cdr(igw_account),
        HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.9",
        REMOTE_ADDR="10.0.0.2",
    )
    assert spoofed.status_code == 401
    honest = post_form(
        client,
        igw_account,
        "cdr",
        igw_cdr(igw_account),
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
        REMOTE_ADDR="10.0.0.2",
    )
    assert honest.status_code == 200
    assert Delivery.objects.order_by("id").last().source_ip == "203.0.113.7"


def test_forwarded_for_is_ignored_without_trusted_proxy(client, igw_account, settings):
    settings.TRUSTED_PROXY = False
    igw_account.extra = {"callback_ip_allowlist": ["203.0.113.7"]}
    igw_account.save()
    response = post_form(
        client, igw_account, "cdr", igw_cdr(igw_account), HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert response.status_code == 401


# ------------------------------------------------------------------ huawei


@pytest.mark.parametrize("event", ["callout", "alerting", "answer", "disconnect"])
def test_huawei_status_events(client, huawei_account, event):
    response = post_huawei(client, huawei_account, "status", huawei_status(event))
    assert response.status_code == 200
    assert response.json()["resultcode"] == "0"
    event_row = CallEvent.objects.get()
    assert event_row.kind == event
    record = event_row.call_record
    assert record.call_id == "1202_14260@callenabler"
    assert not record.has_cdr
    field = {"callout": "begin_at", "alerting": "ring_at", "answer": "answer_at"}.get(
        event, "release_at"
    )
    assert getattr(record, field) == datetime(2019, 1, 24, 2, 48, 46, tzinfo=UTC)
    assert Delivery.objects.get().signature == Delivery.Signature.VALID
    if event == "disconnect":
        assert event_row.state_code == "0"


def test_huawei_fee_push_is_a_cdr(client, huawei_account):
    response = post_huawei(client, huawei_account, "cdr", huawei_fee())
    assert response.status_code == 200
    record = CallRecord.objects.get()
    assert record.has_cdr and record.outcome == "answered"
    assert record.duration == 11
    assert record.caller == "+8675528000088"
    assert record.ring_at == datetime(2019, 1, 24, 2, 48, 47, tzinfo=UTC)


def test_huawei_fee_push_with_several_records(client, huawei_account):
    payload = huawei_fee("s1")
    payload["feeLst"].append(huawei_fee("s2", fwdAnswerTime="", sipStatusCode="486")["feeLst"][0])
    assert post_huawei(client, huawei_account, "cdr", payload).status_code == 200
    outcomes = dict(CallRecord.objects.values_list("call_id", "outcome"))
    assert outcomes == {"s1": "answered", "s2": "busy"}


def test_huawei_masked_numbers_are_kept_raw(client, huawei_account):
    payload = huawei_status("callout")
    payload["statusInfo"]["caller"] = "+86138****0022"
    post_huawei(client, huawei_account, "status", payload)
    assert CallRecord.objects.get().caller == "+86138****0022"


def _set_mode(account, mode):
    account.extra = {"push_signature": mode} if mode else {}
    account.save()


@pytest.mark.parametrize("mode", ["require", "verify", "off", None])
def test_huawei_bad_signature_per_mode(client, huawei_account, mode):
    _set_mode(huawei_account, mode)
    url = url_for(huawei_account, "status")
    headers = huawei_headers(huawei_account, f"http://testserver{url}", secret="wrong-secret")
    response = client.post(
        url, data=json.dumps(huawei_status("answer")), content_type="application/json", **headers
    )
    delivery = Delivery.objects.get()
    if mode in ("require", None):  # require is the default: the document requires X-AKSK
        assert response.status_code == 401
        assert delivery.outcome == Delivery.Outcome.REJECTED_AUTH
        assert "PasswordDigest" in delivery.reason
        assert "wrong-secret" not in delivery.auth_expected + delivery.auth_received
        assert huawei_account.secret not in delivery.auth_expected + delivery.auth_received
        assert bytes(delivery.body) == json.dumps(huawei_status("answer")).encode()
        assert delivery.is_replayable
        assert not CallRecord.objects.exists()
    else:  # verify, and "off", its old name: checked and recorded, accepted
        assert response.status_code == 200
        assert delivery.outcome == Delivery.Outcome.ACCEPTED
        assert delivery.signature == Delivery.Signature.INVALID
        assert "verify mode" in delivery.reason


def test_huawei_stale_signature_is_rejected_when_required(client, huawei_account):
    _set_mode(huawei_account, "require")
    url = url_for(huawei_account, "status")
    old = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = huawei_headers(huawei_account, f"http://testserver{url}", created=old)
    response = client.post(
        url, data=json.dumps(huawei_status("answer")), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert "Created" in Delivery.objects.get().reason


@pytest.mark.parametrize("mode", ["require", None])
def test_huawei_missing_signature_when_required(client, huawei_account, mode):
    _set_mode(huawei_account, mode)
    response = post_huawei(client, huawei_account, "status", huawei_status("answer"), sign=False)
    assert response.status_code == 401
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_AUTH
    assert "X-AKSK" in delivery.reason


def test_huawei_stale_signature_is_rejected_by_default(client, huawei_account):
    url = url_for(huawei_account, "status")
    old = (datetime.now(UTC) - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = huawei_headers(huawei_account, f"http://testserver{url}", created=old)
    response = client.post(
        url, data=json.dumps(huawei_status("answer")), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert "away from now" in Delivery.objects.get().reason


def test_huawei_push_for_another_app_key_is_rejected(client, huawei_account):
    other = VendorAccountFactory(vendor="huawei", account_id="another-app-key")
    url = url_for(huawei_account, "status")
    # Correctly signed by the other application, posted to this account's URL.
    headers = huawei_headers(other, f"http://testserver{url}")
    response = client.post(
        url, data=json.dumps(huawei_status("answer")), content_type="application/json", **headers
    )
    assert response.status_code == 401
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_AUTH
    assert "Username" in delivery.reason


def _signed(account, kind="status", nonce=None):
    url = url_for(account, kind)
    return url, huawei_headers(account, f"http://testserver{url}", nonce=nonce)


def test_huawei_nonce_cannot_carry_another_body(client, huawei_account):
    """A captured header (fresh, correctly signed) re-sent with a forged body."""
    url, headers = _signed(huawei_account)
    genuine = json.dumps(huawei_status("answer", session="genuine"))
    forged = json.dumps(huawei_status("answer", session="forged"))
    assert client.post(url, genuine, content_type="application/json", **headers).status_code == 200
    response = client.post(url, forged, content_type="application/json", **headers)
    assert response.status_code == 401
    refused = Delivery.objects.order_by("-id").first()
    assert refused.outcome == Delivery.Outcome.REJECTED_AUTH
    assert "Nonce already used" in refused.reason
    assert bytes(refused.body) == forged.encode()
    assert list(CallRecord.objects.values_list("call_id", flat=True)) == ["genuine"]
    # A replay that re-checks authentication refuses it again; skip-auth is the
    # operator vouching for it.
    assert services.delivery_replay(delivery=refused).outcome == Delivery.Outcome.REJECTED_AUTH
    # Still refused once the nonce row is pruned: the earlier delivery is the proof.
    CallbackNonce.objects.all().delete()
    assert services.delivery_replay(delivery=refused).outcome == Delivery.Outcome.REJECTED_AUTH
    replayed = services.delivery_replay(delivery=refused, skip_auth=True)
    assert replayed.outcome == Delivery.Outcome.ACCEPTED


def test_huawei_replay_of_a_genuine_push_passes_the_nonce_check(client, huawei_account):
    """The operator fixes a wrong secret and replays: the nonce does not get in the way."""
    real = huawei_account.secret
    huawei_account.secret = "configured-wrongly"
    huawei_account.save()
    url = url_for(huawei_account, "status")
    headers = huawei_headers(huawei_account, f"http://testserver{url}", secret=real)
    body = json.dumps(huawei_status("answer"))
    assert client.post(url, body, "application/json", **headers).status_code == 401
    huawei_account.secret = real
    huawei_account.save()
    delivery = services.delivery_replay(delivery=Delivery.objects.get())
    assert delivery.outcome == Delivery.Outcome.ACCEPTED, delivery.reason
    assert CallbackNonce.objects.count() == 1


def test_huawei_same_nonce_same_body_is_a_retry(client, huawei_account):
    """A vendor retry that reuses its headers: acknowledged, stored once."""
    url, headers = _signed(huawei_account)
    body = json.dumps(huawei_status("answer"))
    first = client.post(url, body, content_type="application/json", **headers)
    again = client.post(url, body, content_type="application/json", **headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert [d.outcome for d in Delivery.objects.order_by("id")] == [
        Delivery.Outcome.ACCEPTED,
        Delivery.Outcome.DUPLICATE,
    ]


def test_huawei_nonce_is_per_account(client, huawei_account):
    other = VendorAccountFactory(vendor="huawei", account_id="second-app")
    body = json.dumps(huawei_status("answer"))
    url_a, headers_a = _signed(huawei_account, nonce="ABC123")
    url_b, headers_b = _signed(other, nonce="ABC123")
    assert client.post(url_a, body, content_type="application/json", **headers_a).status_code == 200
    assert client.post(url_b, body, content_type="application/json", **headers_b).status_code == 200


def test_huawei_verify_mode_records_a_reused_nonce_but_accepts(client, huawei_account):
    _set_mode(huawei_account, "verify")
    url, headers = _signed(huawei_account)
    client.post(
        url, json.dumps(huawei_status("answer", session="a")), "application/json", **headers
    )
    response = client.post(
        url, json.dumps(huawei_status("answer", session="b")), "application/json", **headers
    )
    assert response.status_code == 200
    second = Delivery.objects.order_by("-id").first()
    assert second.outcome == Delivery.Outcome.ACCEPTED
    assert second.signature == Delivery.Signature.INVALID
    assert "Nonce already used" in second.reason


def test_huawei_failed_processing_does_not_spend_the_nonce(client, huawei_account):
    url, headers = _signed(huawei_account)
    body = json.dumps(huawei_status("answer"))
    with mock.patch("callbacks.services._apply", side_effect=OperationalError("db hiccup")):
        assert client.post(url, body, "application/json", **headers).status_code == 500
    assert not CallbackNonce.objects.exists()
    # The vendor's retry with the same headers goes through.
    assert client.post(url, body, "application/json", **headers).status_code == 200


def test_huawei_rejected_invalid_push_still_spends_its_nonce(client, huawei_account):
    url, headers = _signed(huawei_account)
    bad = json.dumps(huawei_status("answer", ts="9999-12-31 23:59:59"))
    assert client.post(url, bad, "application/json", **headers).status_code == 400
    good = json.dumps(huawei_status("answer"))
    assert client.post(url, good, "application/json", **headers).status_code == 401


def test_expired_nonces_are_pruned(huawei_account):
    now = datetime.now(UTC)
    for name, expires in (
        ("old", now - timedelta(seconds=1)),
        ("live", now + timedelta(minutes=5)),
    ):
        CallbackNonce.objects.create(
            vendor_account=huawei_account, nonce=name, body_sha256="x" * 64, expires_at=expires
        )
    assert services.callback_nonce_prune(now=now) == 1
    assert list(CallbackNonce.objects.values_list("nonce", flat=True)) == ["live"]


def test_huawei_signature_over_the_public_url_behind_a_proxy(client, huawei_account, settings):
    """The vendor signs https://console.example.com/...; we see http://internal:8000."""
    _set_mode(huawei_account, "require")
    settings.TRUSTED_PROXY = True
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["console.example.com", "testserver"]
    url = url_for(huawei_account, "status")
    headers = huawei_headers(huawei_account, f"https://console.example.com{url}")
    response = client.post(
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="console.example.com",
        **headers,
    )
    assert response.status_code == 200, Delivery.objects.get().reason
    assert Delivery.objects.get().url.startswith("https://console.example.com/callbacks/")


def test_huawei_proxy_headers_are_not_trusted_without_the_setting(client, huawei_account, settings):
    _set_mode(huawei_account, "require")
    settings.USE_X_FORWARDED_HOST = False
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.ALLOWED_HOSTS = ["console.example.com", "testserver"]
    url = url_for(huawei_account, "status")
    headers = huawei_headers(huawei_account, f"https://console.example.com{url}")
    response = client.post(
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="console.example.com",
        **headers,
    )
    assert response.status_code == 401
    assert "http://testserver/callbacks/" in Delivery.objects.get().auth_expected


def test_huawei_x_aksk_is_stored_for_replays(client, huawei_account):
    """Stored whole so a replay can re-check it; pages show a redacted form
    (tests/callbacks/test_pages.py)."""
    post_huawei(client, huawei_account, "status", huawei_status("answer"))
    headers = Delivery.objects.get().headers
    assert headers["X-AKSK"].startswith("UsernameToken ")
    assert headers["Authorization"].startswith("AKSK realm=")


# ------------------------------------------------------------------ ccp


@pytest.mark.parametrize(
    ("byetype", "outcome", "side"),
    [
        ("1", "answered", "caller"),
        ("2", "answered", "callee"),
        ("3", "answered", "platform"),
        ("-1", "no_answer", ""),
        ("-2", "busy", ""),
        ("-3", "rejected", ""),
        ("-4", "unreachable", ""),
        ("-5", "invalid_number", ""),
        ("-6", "failed", ""),
    ],
)
def test_ccp_hangup(client, ccp_account, byetype, outcome, side):
    response = post_ccp(client, ccp_account, ccp_hangup(byetype=byetype))
    assert response.status_code == 200
    assert b"000000" in response.content
    record = CallRecord.objects.get()
    assert (record.outcome, record.release_side) == (outcome, side)
    assert record.duration == 60
    # 20240101120010 Beijing time
    assert record.answer_at == datetime(2024, 1, 1, 4, 0, 10, tzinfo=UTC)


def test_ccp_json_hangup(client, ccp_account):
    body = json.dumps({"Request": {"action": "Hangup", "callSid": "j1", "byetype": "-2"}})
    response = client.post(
        url_for(ccp_account, "cdr"),
        data=body,
        content_type="application/json",
        **{"HTTP_AUTHORIZATION": base64.b64encode(f"MAC:{ccp_account.secret}".encode()).decode()},
    )
    assert response.status_code == 200
    assert CallRecord.objects.get().outcome == "busy"


def test_ccp_wrong_token_is_rejected_and_the_header_never_stored(client, ccp_account):
    from tests.callbacks.conftest import ccp_auth

    headers = ccp_auth(ccp_account, token="not-the-token")
    response = post_ccp(client, ccp_account, ccp_hangup(), auth=False, **headers)
    assert response.status_code == 401
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_AUTH
    assert delivery.headers["Authorization"].startswith("[redacted")
    assert "not-the-token" not in json.dumps(delivery.headers) + delivery.auth_received


def test_ccp_good_authorization_is_stored_redacted(client, ccp_account):
    post_ccp(client, ccp_account, ccp_hangup())
    stored = json.dumps(Delivery.objects.get().headers)
    assert ccp_account.secret not in stored
    assert (
        base64.b64encode(f"EC-55-F9-C7-62-CE:{ccp_account.secret}".encode()).decode() not in stored
    )


def test_ccp_missing_authorization(client, ccp_account):
    response = post_ccp(client, ccp_account, ccp_hangup(), auth=False)
    assert response.status_code == 401


def test_ccp_platform_mac_is_checked_when_configured(client, ccp_account):
    ccp_account.extra = {"platform_mac": "00-11-22-33-44-55"}
    ccp_account.save()
    assert post_ccp(client, ccp_account, ccp_hangup()).status_code == 401


# ------------------------------------------------------------------ cyj


def test_cyj_cdr(client, cyj_account):
    response = post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account))
    assert response.status_code == 200
    record = CallRecord.objects.get()
    assert record.outcome == "answered" and record.duration == 90
    assert record.x_number == "+8617118230000"
    assert record.vendor_binding_id == "17118230000"
    assert record.recording_status == "pending"  # fetched through cyj's recording API


def test_cyj_wrong_appid(client, cyj_account):
    response = post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account, APPID="nope"))
    assert response.status_code == 401


# ------------------------------------------------------------------ limits and routing


def test_get_is_405(client, igw_account):
    assert client.get(url_for(igw_account, "cdr")).status_code == 405
    assert not Delivery.objects.exists()


def test_unknown_token_is_404_and_stores_nothing(client, igw_account):
    response = client.post(
        "/callbacks/not-a-token/cdr/", data="a=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 404
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["/callbacks/%00/cdr/", "/callbacks/{token}/%00/", "/callbacks/{token}/" + "k" * 33 + "/"],
)
def test_a_url_no_token_or_kind_can_have_is_404_not_503(client, igw_account, path):
    """PostgreSQL refuses NUL in text and Delivery.kind holds 32 characters: such a URL
    used to reach the database and answer 503 with a logged traceback."""
    response = client.post(
        path.format(token=igw_account.webhook_token),
        data="a=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 404
    assert not Delivery.objects.exists()


def test_unknown_kind_is_404_but_kept(client, igw_account):
    response = post_form(client, igw_account, "status", igw_cdr(igw_account))
    assert response.status_code == 404
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_INVALID
    assert "unknown callback kind" in delivery.reason


def test_webhook_needs_no_csrf_token(igw_account):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post_form(strict, igw_account, "cdr", igw_cdr(igw_account)).status_code == 200


def test_oversized_body_is_413(client, igw_account):
    body = "a=" + "x" * (256 * 1024)
    response = client.post(
        url_for(igw_account, "cdr"), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_INVALID
    assert delivery.body == b"" or bytes(delivery.body) == b""
    assert "cap" in delivery.reason


def test_body_over_cap_without_content_length_is_413(rf, igw_account):
    """A lying Content-Length is caught by the read size."""
    from callbacks import webhooks

    request = rf.post("/x", data="a=" + "x" * 300, content_type="application/x-www-form-urlencoded")
    request.META["CONTENT_LENGTH"] = ""
    with pytest.raises(webhooks.BodyTooLarge):
        webhooks.read_body(request, limit=100)
    request = rf.post("/x", data="a=" + "x" * 300, content_type="application/x-www-form-urlencoded")
    with pytest.raises(webhooks.BodyTooLarge):
        webhooks.read_body(request, limit=100)


def test_body_at_the_cap_is_read(rf):
    from callbacks import webhooks

    request = rf.post("/x", data="x" * 100, content_type="text/plain")
    assert webhooks.read_body(request, limit=100) == b"x" * 100


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"devid=10000000&appid=app-igw&taskid=",  # truncated
        b"devid=10000000&appid=app-igw&taskid=t&result=answered",  # no beginTime
        b"\xff\xfe\x00garbage",
        b"%%%&&&===",
    ],
)
def test_malformed_igw_bodies_are_400_and_kept(client, igw_account, body):
    response = client.post(
        url_for(igw_account, "cdr"), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 401)
    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == body
    assert delivery.outcome in (
        Delivery.Outcome.REJECTED_INVALID,
        Delivery.Outcome.REJECTED_AUTH,
    )
    assert delivery.reason
    assert not CallRecord.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"eventType": "answer"}', b'{"eventType":"fee","feeLst":[]}', b"null"],
)
def test_malformed_huawei_bodies_are_400(client, huawei_account, body):
    _set_mode(huawei_account, "off")
    response = client.post(
        url_for(huawei_account, "status"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert Delivery.objects.get().outcome == Delivery.Outcome.REJECTED_INVALID


def test_truncated_ccp_xml_is_400(client, ccp_account):
    response = post_ccp(client, ccp_account, ccp_hangup()[:60])
    assert response.status_code == 400
    assert "XML" in Delivery.objects.get().reason


def test_nul_bytes_and_surrogates_do_not_break_storage(client, cyj_account):
    payload = cyj_cdr(cyj_account, Caller="1\u0000832", CallIdentifier="id\ud800x")
    response = client.post(
        url_for(cyj_account, "cdr"),
        data=json.dumps(payload),  # ensure_ascii keeps the lone surrogate as \ud800
        content_type="application/json",
    )
    assert response.status_code == 200
    assert CallRecord.objects.get().caller == "1832"


def test_huge_call_id_is_invalid_not_a_crash(client, cyj_account):
    response = post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account, call_id="9" * 300))
    assert response.status_code == 400


# ------------------------------------------------------------------ duplicates and ordering


def test_duplicate_cdr_is_acknowledged_and_stored_once(client, igw_account):
    fields = igw_cdr(igw_account)
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    assert CallRecord.objects.count() == 1
    outcomes = list(Delivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


def test_a_second_different_cdr_does_not_overwrite_the_first(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, result="17", duration="0"))
    record = CallRecord.objects.get()
    assert (record.outcome, record.duration) == ("answered", 60)


def test_duplicate_event_is_stored_once(client, huawei_account):
    for _ in range(3):
        post_huawei(client, huawei_account, "status", huawei_status("answer"))
    assert CallEvent.objects.count() == 1
    assert list(Delivery.objects.order_by("id").values_list("outcome", flat=True)) == [
        "accepted",
        "duplicate",
        "duplicate",
    ]


def test_events_then_cdr(client, huawei_account):
    for event, ts in [("callout", "02:48:46"), ("alerting", "02:48:47"), ("answer", "02:49:12")]:
        post_huawei(client, huawei_account, "status", huawei_status(event, ts=f"2019-01-24 {ts}"))
    record = CallRecord.objects.get()
    assert not record.has_cdr
    post_huawei(client, huawei_account, "cdr", huawei_fee())
    post_huawei(
        client, huawei_account, "status", huawei_status("disconnect", ts="2019-01-24 02:49:23")
    )
    record.refresh_from_db()
    assert record.has_cdr and record.outcome == "answered"
    assert record.duration == 11
    assert record.release_at == datetime(2019, 1, 24, 2, 49, 23, tzinfo=UTC)
    assert record.events.count() == 4
    assert CallRecord.objects.count() == 1


def test_cdr_then_events_never_overwrite_the_cdr(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, caller="13800138000"))
    post_form(
        client,
        igw_account,
        "call-start",
        igw_call_start(igw_account, caller="13700137000", callTime=str(BEGIN - 100)),
    )
    record = CallRecord.objects.get()
    assert record.caller == "+8613800138000"
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)
    assert record.events.count() == 1


def test_cdr_completes_an_event_record_but_keeps_event_only_fields(client, ccp_account):
    """ccp CDRs carry no ring time; an event's ring time survives the CDR."""
    record = CallRecord.objects.create(
        vendor_account=ccp_account,
        vendor="ccp",
        call_id="call-sid-1",
        ring_at=datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC),
        call_at=datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC),
    )
    post_ccp(client, ccp_account, ccp_hangup())
    record.refresh_from_db()
    assert record.has_cdr
    assert record.ring_at == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
    assert record.call_at == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)


# ------------------------------------------------------------------ failures make the vendor retry


def test_database_error_mid_processing_answers_500_and_writes_nothing(client, igw_account):
    from callbacks import normalize

    real = normalize._event_apply

    def explode(*args, **kwargs):
        real(*args, **kwargs)  # the record and the event are written...
        raise OperationalError("server closed the connection unexpectedly")  # ...then this

    with mock.patch.object(normalize, "_event_apply", explode):
        response = post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert response.status_code == 500
    assert not CallRecord.objects.exists()
    assert not CallEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.FAILED_PROCESSING
    assert "OperationalError" in delivery.reason
    assert "Traceback" in delivery.traceback
    assert b"taskid=task-1" in bytes(delivery.body)

    # The vendor retries once the database is back: accepted, stored once.
    response = post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert response.status_code == 200
    assert CallEvent.objects.count() == 1


def test_bug_in_processing_answers_500(client, igw_account):
    from callbacks import normalize

    with mock.patch.object(normalize, "_cdr_apply", side_effect=KeyError("oops")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 500
    assert Delivery.objects.get().outcome == Delivery.Outcome.FAILED_PROCESSING


def test_database_down_before_the_raw_row_answers_503(client, igw_account):
    # The raw row is INSERTed by callbacks.hotsql.insert (was Delivery.objects.create).
    with mock.patch("callbacks.hotsql.insert", side_effect=OperationalError("down")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 503
    assert not CallRecord.objects.exists()


def test_database_down_even_for_the_failure_note(client, igw_account):
    from callbacks import normalize, services

    with (
        mock.patch.object(normalize, "_cdr_apply", side_effect=OperationalError("gone")),
        mock.patch.object(services, "_finish", side_effect=OperationalError("gone")),
    ):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 500
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECEIVED


# ------------------------------------------------------------------ implausible times


@pytest.mark.parametrize("epoch", ["253402300799", "1", "946684799"])
def test_igw_cdr_with_implausible_times_is_rejected_invalid(client, igw_account, epoch):
    """253402300799 (9999-12-31T23:59:59Z) was accepted and made /calls/ a 500."""
    fields = igw_cdr(
        igw_account, beginTime=epoch, ringTime=epoch, answerTime=epoch, releaseTime=epoch
    )
    response = post_form(client, igw_account, "cdr", fields)
    assert response.status_code == 400
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED_INVALID
    assert "outside the plausible window" in delivery.reason
    assert "outside the plausible window" in response.json()["message"]
    assert bytes(delivery.body).decode() == urlencode(fields)
    assert delivery.is_replayable
    assert not CallRecord.objects.exists()
    # Replayable (and refused the same way: the times are judged as of arrival).
    replayed = services.delivery_replay(delivery=delivery)
    assert replayed.outcome == Delivery.Outcome.REJECTED_INVALID
    assert replayed.attempts == 2


def test_a_time_a_little_ahead_of_our_clock_is_accepted(client, igw_account):
    soon = str(int(datetime.now(UTC).timestamp()) + 3600)
    fields = igw_cdr(igw_account, releaseTime=soon)
    assert post_form(client, igw_account, "cdr", fields).status_code == 200


def test_huawei_event_in_the_far_future_is_rejected_invalid(client, huawei_account):
    payload = huawei_status("answer", ts="9999-12-31 23:59:59")
    response = post_huawei(client, huawei_account, "status", payload)
    assert response.status_code == 400
    assert "occurred_at" in Delivery.objects.get().reason
    assert not CallEvent.objects.exists()
