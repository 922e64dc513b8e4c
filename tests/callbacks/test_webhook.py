"""The webhook view: every documented payload accepted and normalized, authentication,
limits, duplicates, ordering, and failures that must make the vendor retry."""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from callbacks import services
from callbacks.models import CallEvent, CallRecord, Delivery
from tests.payloads import (
    BEGIN,
    ccp_hangup,
    cyj_cdr,
    huawei_status,
    igw_call_start,
    igw_cdr,
    post_ccp,
    post_form,
    post_huawei,
    post_json,
    post_raw,
    url_for,
)
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
    response = post_raw(
        client,
        url_for(ccp_account, "cdr"),
        data=body,
        content_type="application/json",
        **{"HTTP_AUTHORIZATION": base64.b64encode(f"MAC:{ccp_account.secret}".encode()).decode()},
    )
    assert response.status_code == 200
    assert CallRecord.objects.get().outcome == "busy"


def test_ccp_wrong_token_is_rejected_and_the_header_never_stored(client, ccp_account):
    from tests.payloads import ccp_auth

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


def test_truncated_ccp_xml_is_400(client, ccp_account):
    response = post_ccp(client, ccp_account, ccp_hangup()[:60])
    assert response.status_code == 400
    assert "XML" in Delivery.objects.get().reason


def test_nul_bytes_and_surrogates_do_not_break_storage(client, cyj_account):
    payload = cyj_cdr(cyj_account, Caller="1\u0000832", CallIdentifier="id\ud800x")
    response = post_raw(
        client,
        url_for(cyj_account, "cdr"),
        data=json.dumps(payload),  # ensure_ascii keeps the lone surrogate as \ud800
        content_type="application/json",
    )
    assert response.status_code == 200
    assert CallRecord.objects.get().caller == "1832"


def test_huge_call_id_is_invalid_not_a_crash(client, cyj_account):
    response = post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account, call_id="9" * 300))
    assert response.status_code == 400


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
