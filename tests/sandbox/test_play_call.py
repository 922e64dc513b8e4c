"""play_call: the documented callbacks reach a real HTTP endpoint, each body
parses with vendors/<code>.parse_callback and authenticates with
authenticate_callback; chaos (duplicate, out of order, late recording) and
retries behave."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox import services
from sandbox.models import SandboxBinding, SandboxCall, SandboxDelivery
from tests.sandbox.conftest import point_callbacks_at
from vendors import CallEventData, CallOutcome, CallRecordData, ccp, igw

A, B = "13800000001", "13900000002"
NO_WAIT = (0, 0)


def kind_of(captured) -> str:
    # /callbacks/<token>/<kind>/
    return captured.path.rstrip("/").rsplit("/", 1)[1]


def check(vendor, capture, captured) -> list:
    """authenticate + parse as the console would; return the parsed items."""
    kind = kind_of(captured)
    vendor.client.authenticate_callback(
        kind, headers=captured.headers, body=captured.body, url=capture.url + captured.path
    )
    return vendor.client.parse_callback(
        kind, body=captured.body, content_type=captured.headers.get("Content-Type", "")
    )


def igw_binding(vendor, *, record=True) -> SandboxBinding:
    x = vendor.account.numbers.first().number
    vendor.client.bind_axb(x_number=x, a_number=A, b_number=B, reqid="r1", ttl=600, record=record)
    return SandboxBinding.objects.get()


def test_igw_call_start_then_cdr(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    binding = igw_binding(vendor)
    call = services.play_call(binding=binding, outcome="answered", duration=42)
    assert [kind_of(c) for c in capture.requests] == ["call-start", "cdr"]
    start, cdr = (check(vendor, capture, c)[0] for c in capture.requests)
    assert isinstance(start, CallEventData) and start.kind == "call_start"
    assert isinstance(cdr, CallRecordData)
    assert cdr.call_id == start.call_id == call.call_id
    assert cdr.vendor_binding_id == binding.subid
    assert (cdr.caller, cdr.callee, cdr.x_number) == (A, B, binding.x_number)
    assert cdr.outcome is CallOutcome.ANSWERED and cdr.duration == 42
    assert cdr.answer_at and cdr.release_at and (cdr.release_at - cdr.answer_at).seconds == 42
    assert capture.requests[1].headers["Content-Type"] == "application/x-www-form-urlencoded"
    audio = requests.get(cdr.recording_url)
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
    call.refresh_from_db()
    assert call.status == "done"


@pytest.mark.parametrize(
    "outcome",
    ["busy", "no_answer", "rejected", "unreachable", "invalid_number", "blocked", "failed"],
)
def test_igw_outcomes_round_trip(make_vendor, capture, outcome):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    services.play_call(binding=igw_binding(vendor), outcome=outcome, direction="b_to_a")
    cdr = check(vendor, capture, capture.requests[-1])[0]
    assert cdr.outcome == outcome and cdr.duration == 0 and cdr.recording_url == ""
    assert (cdr.caller, cdr.callee) == (B, A)
    assert igw.RESULT_OUTCOMES[cdr.raw_code] == outcome


def test_igw_xa_call(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    x = vendor.account.numbers.first().number
    vendor.client.bind_xa(x_number=x, a_number=A, reqid="xa")
    services.play_call(binding=SandboxBinding.objects.get(), caller="13500000005")
    cdr = check(vendor, capture, capture.requests[-1])[0]
    assert (cdr.caller, cdr.callee, cdr.vendor_binding_id) == ("13500000005", A, "")


def test_huawei_status_pushes_and_fee(make_vendor, capture):
    # 表4 allows only [A-Za-z0-9-:./] in statusUrl/feeUrl: no "_" in the token.
    vendor = make_vendor("huawei", webhook_token="HuaweiSafeToken0123456789abcdef")
    urls = point_callbacks_at(vendor.sandbox, capture)
    result = vendor.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="1234",
        pre_tone="w.wav",
        status_url=urls["status"],
        fee_url=urls["cdr"],
        user_data="u-9",
    )
    call = SandboxCall.objects.get(call_id=result.session_id)
    services.play_call(call=call, outcome="answered", duration=8)
    events = [check(vendor, capture, c)[0] for c in capture.requests]
    assert [e.kind for e in events[:-1]] == ["callout", "alerting", "answer", "disconnect"]
    assert all(e.call_id == result.session_id and e.user_data == "u-9" for e in events)
    fee = events[-1]
    assert isinstance(fee, CallRecordData) and fee.outcome is CallOutcome.ANSWERED
    assert fee.duration == 8 and fee.callee == "+8613800000001"
    # A tampered URL does not verify: the digest covers it.
    with pytest.raises(Exception, match="PasswordDigest"):
        vendor.client.authenticate_callback(
            "cdr", headers=capture.requests[-1].headers, body=b"", url=urls["cdr"] + "x"
        )


@pytest.mark.parametrize(
    "outcome", ["busy", "no_answer", "rejected", "unreachable", "invalid_number", "failed"]
)
def test_huawei_unanswered(make_vendor, capture, outcome):
    vendor = make_vendor("huawei")
    point_callbacks_at(vendor.sandbox, capture)
    result = vendor.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="12",
        pre_tone="w",
    )
    services.play_call(call=SandboxCall.objects.get(call_id=result.session_id), outcome=outcome)
    assert [kind_of(c) for c in capture.requests][-1] == "cdr"
    fee = check(vendor, capture, capture.requests[-1])[0]
    assert fee.outcome == outcome
    disconnect = check(vendor, capture, capture.requests[-2])[0]
    assert disconnect.kind == "disconnect" and disconnect.state_code == huawei_sip(outcome)


def huawei_sip(outcome: str) -> str:
    from sandbox.huawei import SIP_CODES

    return SIP_CODES[outcome]


def test_ccp_hangup(make_vendor, capture):
    vendor = make_vendor("ccp", extra={"platform_mac": "AA-BB-CC-DD-EE-FF"})
    assert vendor.sandbox.platform_mac == "AA-BB-CC-DD-EE-FF"
    point_callbacks_at(vendor.sandbox, capture)
    sub = vendor.client.create_sub_account("s")
    result = vendor.client.two_way_call(
        sub_account_sid=sub.sub_account_sid,
        sub_token=sub.sub_token,
        from_number=A,
        to_number=B,
        user_data="u",
    )
    services.play_call(call=SandboxCall.objects.get(call_id=result.call_sid), duration=17)
    auth, established, captured = capture.requests
    assert captured.body.startswith(b"<?xml")
    (start,) = check(vendor, capture, auth)
    (answer,) = check(vendor, capture, established)
    assert (start.kind, answer.kind) == ("call_start", "answer")
    assert {start.call_id, answer.call_id} == {result.call_sid}
    record = check(vendor, capture, captured)[0]
    assert answer.occurred_at == record.answer_at and start.occurred_at < record.answer_at
    assert record.call_id == result.call_sid and record.outcome is CallOutcome.ANSWERED
    assert (record.caller, record.callee, record.duration, record.user_data) == (A, B, 17, "u")
    assert record.recording_url.endswith(".wav")
    # The header is Base64(MAC:AuthToken) with the main token.
    assert captured.headers["Authorization"] == ccp.platform_authorization(
        "AA-BB-CC-DD-EE-FF", vendor.account.secret
    )


def test_ccp_hangup_goes_to_hangup_cdr_url_and_need_record_0_records_nothing(make_vendor, capture):
    vendor = make_vendor("ccp")
    point_callbacks_at(vendor.sandbox, capture)
    sub = vendor.client.create_sub_account("s")
    result = vendor.client.two_way_call(
        sub_account_sid=sub.sub_account_sid,
        sub_token=sub.sub_token,
        from_number=A,
        to_number=B,
        hangup_cdr_url=capture.url + "/elsewhere/cdr",
        need_record=False,
        max_call_time=120,
    )
    call = SandboxCall.objects.get(call_id=result.call_sid)
    assert (call.params["needRecord"], call.params["maxCallTime"]) == ("0", "120")
    services.play_call(call=call, duration=5)
    paths = [c.path for c in capture.requests]
    assert paths[-1] == "/elsewhere/cdr" and all(p.endswith("/cdr/") for p in paths[:-1])
    hangup = vendor.client.parse_callback("cdr", body=capture.requests[-1].body, content_type="")
    assert hangup[0].outcome is CallOutcome.ANSWERED and hangup[0].recording_url == ""


def test_ccp_busy(make_vendor, capture):
    vendor = make_vendor("ccp")
    point_callbacks_at(vendor.sandbox, capture)
    sub = vendor.client.create_sub_account("s")
    result = vendor.client.two_way_call(
        sub_account_sid=sub.sub_account_sid, sub_token=sub.sub_token, from_number=A, to_number=B
    )
    call = SandboxCall.objects.get(call_id=result.call_sid)
    services.play_call(call=call, outcome="busy")
    start, hangup = capture.requests  # no CallEstablish: never answered
    assert check(vendor, capture, start)[0].kind == "call_start"
    record = check(vendor, capture, hangup)[0]
    assert record.outcome is CallOutcome.BUSY and record.recording_url == ""
    with pytest.raises(ValueError, match="already played"):
        services.play_call(call=call)
    with pytest.raises(ValueError, match="cannot express"):
        services.play_call(
            call=SandboxCall.objects.create(account=call.account, kind="callback", call_id="c2"),
            outcome="blocked",
        )


def test_cyj_cdr(make_vendor, capture):
    vendor = make_vendor("cyj")
    point_callbacks_at(vendor.sandbox, capture)
    bound = vendor.client.bind(caller=A, callee=B)
    call = services.play_call(binding=SandboxBinding.objects.get(), outcome="no_answer")
    record = check(vendor, capture, capture.requests[0])[0]
    assert record.call_id == call.call_id and record.outcome is CallOutcome.NO_ANSWER
    assert record.x_number == bound.x_number


def test_duplicate_and_out_of_order(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    call = services.play_call(
        binding=igw_binding(vendor), chaos={"duplicate": True, "out_of_order": True}
    )
    assert [kind_of(c) for c in capture.requests] == ["cdr", "cdr", "call-start", "call-start"]
    assert capture.requests[0].body == capture.requests[1].body
    rows = list(call.deliveries.order_by("sequence"))
    assert [r.duplicate for r in rows] == [False, True, False, True]


def test_late_recording_404s_until_ready(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    services.play_call(binding=igw_binding(vendor), chaos={"recording_late_seconds": 2})
    cdr = check(vendor, capture, capture.requests[-1])[0]
    assert requests.get(cdr.recording_url).status_code == 404
    time.sleep(2.2)
    assert requests.get(cdr.recording_url).status_code == 200


def test_retries_on_5xx_then_gives_up(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    capture.statuses = [500, 503]  # call-start fails twice, then 200
    call = services.play_call(binding=igw_binding(vendor), retry_delays=NO_WAIT)
    rows = list(call.deliveries.order_by("sequence", "attempt"))
    assert [(r.event, r.attempt, r.http_status) for r in rows] == [
        ("call-start", 1, 500),
        ("call-start", 2, 503),
        ("call-start", 3, 200),
        ("cdr", 1, 200),
    ]
    call.refresh_from_db()
    assert call.status == "done"

    capture.statuses = [500, 500, 500]
    again = services.play_call(binding=SandboxBinding.objects.get(), retry_delays=NO_WAIT)
    again.refresh_from_db()
    assert again.status == "failed"
    assert again.deliveries.filter(event="call-start").count() == 3


def test_unreachable_callback_url_is_recorded(make_vendor):
    vendor = make_vendor("igw", numbers=1)
    vendor.sandbox.callback_urls = {"cdr": "http://127.0.0.1:9/cdr/"}  # discard port: refused
    vendor.sandbox.save()
    call = services.play_call(binding=igw_binding(vendor), retry_delays=NO_WAIT)
    errors = set(SandboxDelivery.objects.filter(call=call).values_list("error", flat=True))
    assert any("no callback URL" in e for e in errors)  # call-start has none
    assert any("ConnectionError" in e for e in errors)


def test_background_delivery(make_vendor, capture):
    vendor = make_vendor("igw", numbers=1)
    point_callbacks_at(vendor.sandbox, capture)
    call = services.play_call(binding=igw_binding(vendor), sync=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        call.refresh_from_db()
        if call.status == "done":
            break
        time.sleep(0.05)
    assert call.status == "done" and len(capture.requests) == 2


def test_api_chaos_5xx_is_retried_by_the_client(make_vendor):
    vendor = make_vendor("igw", retry=3)
    vendor.client._sleep = lambda seconds: None
    vendor.sandbox.chaos_api_fail_next = 2
    vendor.sandbox.save()
    assert vendor.client.account_status().state == "active"
    vendor.sandbox.refresh_from_db()
    assert vendor.sandbox.chaos_api_fail_next == 0


def test_api_chaos_timeout(make_vendor):
    from vendors import NetworkError

    vendor = make_vendor("igw")
    vendor.client.timeout = (1, 0.3)
    vendor.sandbox.chaos_api_timeout_next = 1
    vendor.sandbox.chaos_timeout_seconds = 0.6
    vendor.sandbox.save()
    with pytest.raises(NetworkError):
        vendor.client.account_status()
    assert vendor.client.account_status().state == "active"


def test_auto_play_delivers_in_the_background(make_vendor, capture):
    vendor = make_vendor("ccp")
    point_callbacks_at(vendor.sandbox, capture)
    vendor.sandbox.auto_play = True
    vendor.sandbox.save()
    sub = vendor.client.create_sub_account("s")
    result = vendor.client.two_way_call(
        sub_account_sid=sub.sub_account_sid, sub_token=sub.sub_token, from_number=A, to_number=B
    )
    call = SandboxCall.objects.get(call_id=result.call_sid)
    deadline = time.monotonic() + 10
    while call.status != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
        call.refresh_from_db()
    assert call.status == "done" and call.outcome == "answered"
    record = check(vendor, capture, capture.requests[-1])[0]
    assert record.call_id == result.call_sid
    # The console fetching the recording is journaled too.
    assert requests.get(record.recording_url).status_code == 200
    from sandbox.models import SandboxRequest

    fetch = SandboxRequest.objects.latest("id")
    assert fetch.path.endswith(".wav") and fetch.verdict == "ok" and fetch.vendor == "ccp"
