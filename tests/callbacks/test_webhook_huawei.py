"""The webhook view with huawei's pushes: every documented status and fee push, and
the X-AKSK push signature (required by default, per account verify mode, nonce
replay, stale and malformed headers)."""

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import OperationalError

from callbacks import services
from callbacks.models import CallbackNonce, CallEvent, CallRecord, Delivery
from tests.factories import VendorAccountFactory
from tests.payloads import (
    huawei_fee,
    huawei_headers,
    huawei_status,
    post_huawei,
    post_raw,
    url_for,
)

pytestmark = pytest.mark.django_db


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
    response = post_raw(
        client,
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        **headers,
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
    response = post_raw(
        client,
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        **headers,
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
    response = post_raw(
        client,
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401
    assert "away from now" in Delivery.objects.get().reason


def test_huawei_push_for_another_app_key_is_rejected(client, huawei_account):
    other = VendorAccountFactory(vendor="huawei", account_id="another-app-key")
    url = url_for(huawei_account, "status")
    # Correctly signed by the other application, posted to this account's URL.
    headers = huawei_headers(other, f"http://testserver{url}")
    response = post_raw(
        client,
        url,
        data=json.dumps(huawei_status("answer")),
        content_type="application/json",
        **headers,
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
    assert (
        post_raw(client, url, genuine, content_type="application/json", **headers).status_code
        == 200
    )
    response = post_raw(client, url, forged, content_type="application/json", **headers)
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
    assert post_raw(client, url, body, "application/json", **headers).status_code == 401
    huawei_account.secret = real
    huawei_account.save()
    delivery = services.delivery_replay(delivery=Delivery.objects.get())
    assert delivery.outcome == Delivery.Outcome.ACCEPTED, delivery.reason
    assert CallbackNonce.objects.count() == 1


def test_huawei_same_nonce_same_body_is_a_retry(client, huawei_account):
    """A vendor retry that reuses its headers: acknowledged, stored once."""
    url, headers = _signed(huawei_account)
    body = json.dumps(huawei_status("answer"))
    first = post_raw(client, url, body, content_type="application/json", **headers)
    again = post_raw(client, url, body, content_type="application/json", **headers)
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
    assert (
        post_raw(client, url_a, body, content_type="application/json", **headers_a).status_code
        == 200
    )
    assert (
        post_raw(client, url_b, body, content_type="application/json", **headers_b).status_code
        == 200
    )


def test_huawei_verify_mode_records_a_reused_nonce_but_accepts(client, huawei_account):
    _set_mode(huawei_account, "verify")
    url, headers = _signed(huawei_account)
    post_raw(
        client, url, json.dumps(huawei_status("answer", session="a")), "application/json", **headers
    )
    response = post_raw(
        client, url, json.dumps(huawei_status("answer", session="b")), "application/json", **headers
    )
    assert response.status_code == 200
    second = Delivery.objects.order_by("-id").first()
    assert second.outcome == Delivery.Outcome.ACCEPTED
    assert second.signature == Delivery.Signature.INVALID
    assert "Nonce already used" in second.reason


def test_huawei_an_arrival_that_cannot_be_stored_does_not_spend_the_nonce(client, huawei_account):
    url, headers = _signed(huawei_account)
    body = json.dumps(huawei_status("answer"))
    with mock.patch("callbacks.inbox._store", side_effect=OperationalError("db hiccup")):
        assert client.post(url, body, "application/json", **headers).status_code == 503
    assert not CallbackNonce.objects.exists()
    # The vendor's retry with the same headers goes through.
    assert post_raw(client, url, body, "application/json", **headers).status_code == 200


def test_huawei_rejected_invalid_push_still_spends_its_nonce(client, huawei_account):
    url, headers = _signed(huawei_account)
    bad = json.dumps(huawei_status("answer", ts="9999-12-31 23:59:59"))
    assert post_raw(client, url, bad, "application/json", **headers).status_code == 400
    good = json.dumps(huawei_status("answer"))
    assert post_raw(client, url, good, "application/json", **headers).status_code == 401


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
    response = post_raw(
        client,
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
    response = post_raw(
        client,
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


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"eventType": "answer"}', b'{"eventType":"fee","feeLst":[]}', b"null"],
)
def test_malformed_huawei_bodies_are_400(client, huawei_account, body):
    _set_mode(huawei_account, "off")
    response = post_raw(
        client, url_for(huawei_account, "status"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert Delivery.objects.get().outcome == Delivery.Outcome.REJECTED_INVALID
