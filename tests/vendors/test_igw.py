"""igw: Keytime signature, wire format, error table, retries, callbacks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.payloads import igw_call_start, igw_cdr
from vendors import (
    AuthError,
    CallbackAuthError,
    CallOutcome,
    Conflict,
    InsufficientBalance,
    InvalidPayload,
    InvalidRequest,
    NetworkError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseError,
    TemporaryError,
)
from vendors.igw import RESULT_OUTCOMES, IgwClient, keytime

DEVID, KEY, APPID = "10000000", "abcdef123456", "app-001"


def make(base_url: str, retry, **kw) -> IgwClient:
    return IgwClient(
        base_url=base_url, account_id=DEVID, secret=KEY, app_id=APPID, retry=retry, **kw
    )


# ---------------------------------------------------------------- signature


def test_keytime_fixed_vector() -> None:
    # Computed independently: printf 'abcdef1234561622020210513' | openssl dgst -sha256
    assert keytime(DEVID, KEY, 1622020210513) == "Keytime 10000000,1622020210513,b48a621196e71b88"


def test_keytime_matches_the_documented_java() -> None:
    ts = 1700000000123
    digest = hashlib.sha256(f"{KEY}{ts}".encode()).hexdigest()
    sig = keytime(DEVID, KEY, ts).rsplit(",", 1)[1]
    assert sig == digest[24:40] and len(sig) == 16 and sig == sig.lower()


def test_request_carries_fresh_keytime(vendor_server, fast_retry) -> None:
    vendor_server.answer(200, {"error": 0, "state": 1})
    before = int(datetime.now(UTC).timestamp() * 1000)
    make(vendor_server.base_url, fast_retry).account_status()
    value = vendor_server.requests[0].headers["Authorization"]
    scheme, rest = value.split(" ", 1)
    devid, ts, _sig = rest.split(",")
    assert scheme == "Keytime" and devid == DEVID
    assert abs(int(ts) - before) < 60_000
    assert value == keytime(DEVID, KEY, int(ts))


# ---------------------------------------------------------------- API wire format


def test_account_status(vendor_server, fast_retry) -> None:
    vendor_server.answer(
        200,
        {
            "error": 0,
            "state": 1,
            "role": "dev",
            "balance": 12.3,
            "overdraft": 100,
            "createTime": 1622020210513,
            "updateTime": 1700000000000,
        },
    )
    status = make(vendor_server.base_url, fast_retry).account_status()
    req = vendor_server.requests[0]
    assert (req.method, req.path) == ("GET", "/api/v1/account/status")
    assert status.state == "active"
    assert status.balance == Decimal("12.3") and status.overdraft == Decimal("100")
    assert status.created_at == datetime(2021, 5, 26, 9, 10, 10, tzinfo=UTC)
    assert status.updated_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "name"), [(0, "trial"), (2, "suspended"), (3, "closed"), (9, "unknown")]
)
def test_account_states(vendor_server, fast_retry, state, name) -> None:
    vendor_server.answer(200, {"error": 0, "state": state})
    assert make(vendor_server.base_url, fast_retry).account_status().state == name


def test_bind_axb_form(vendor_server, fast_retry) -> None:
    vendor_server.answer(200, {"error": 0, "subid": "SUB123"})
    result = make(vendor_server.base_url, fast_retry).bind_axb(
        x_number="17011110000",
        a_number="13800000001",
        b_number="13900000002",
        reqid="req-1",
        ttl=600,
        record=True,
        display="1,0",
        user_data="dXNlcg==",
    )
    assert (result.vendor_binding_id, result.x_number) == ("SUB123", "17011110000")
    req = vendor_server.requests[0]
    assert (req.method, req.path) == ("PUT", "/igw/service/uc/interline/17011110000")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(req.body.decode()) == {
        "appid": [APPID],
        "reqid": ["req-1"],
        "anum": ["13800000001"],
        "bnum": ["13900000002"],
        "ttl": ["600"],
        "record": ["1"],
        "display": ["1,0"],
        "userData": ["dXNlcg=="],
    }


def test_release_axb_puts_params_in_uri(vendor_server, fast_retry) -> None:
    vendor_server.answer(200, {"error": 0})
    make(vendor_server.base_url, fast_retry).release_axb(subid="SUB123")
    req = vendor_server.requests[0]
    parts = urlsplit(req.path)
    assert (req.method, parts.path) == ("DELETE", "/igw/service/uc/interline")
    assert parse_qs(parts.query) == {"appid": [APPID], "subid": ["SUB123"]}


def test_bind_and_release_xa(vendor_server, fast_retry) -> None:
    client = make(vendor_server.base_url, fast_retry)
    vendor_server.answer(200, {"error": 0})
    vendor_server.answer(200, {"error": 0})
    result = client.bind_xa(x_number="17011110000", a_number="13800000001", reqid="r2")
    assert (result.vendor_binding_id, result.x_number) == ("", "17011110000")
    client.release_xa(x_number="17011110000")
    put, delete = vendor_server.requests
    assert (put.method, put.path) == ("PUT", "/igw/service/uc/interline/17011110000/transfer")
    assert parse_qs(put.body.decode()) == {
        "appid": [APPID],
        "reqid": ["r2"],
        "anum": ["13800000001"],
        "record": ["0"],
        "display": ["0"],
        "ttl": ["0"],
    }
    assert delete.method == "DELETE"
    assert delete.path == f"/igw/service/uc/interline/17011110000/transfer?appid={APPID}"


def test_bind_validates_before_sending(fast_retry) -> None:
    client = make("https://igw.example", fast_retry)
    with pytest.raises(ValueError, match="reqid"):
        client.bind_axb(x_number="x", a_number="a", b_number="b", reqid="", ttl=1)
    with pytest.raises(ValueError, match="display"):
        client.bind_axb(x_number="x", a_number="a", b_number="b", reqid="r", ttl=1, display="2")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (1000, TemporaryError),
        (1002, InvalidRequest),
        (1004, Conflict),
        (1101, AuthError),
        (1102, PermissionDenied),
        (1105, RateLimited),
        (1110, InsufficientBalance),
        (1201, Conflict),
        (1300, NotFound),
        (1301, Conflict),
        (1500, TemporaryError),
        (1501, TemporaryError),
    ],
)
def test_error_codes_map(faults, fast_retry, code, cls) -> None:
    answers = [(200, {"error": code, "reason": "原文"})] * 4
    session, adapter = faults(answers)
    with pytest.raises(cls) as info:
        make("https://igw.example", fast_retry, session=session).release_axb(subid="s")
    err = info.value
    assert (err.vendor, err.code, err.message, err.http_status) == ("igw", str(code), "原文", 200)
    assert err.message_en
    assert len(adapter.sent) == (4 if cls.retryable else 1)


def test_http_401_is_auth_error_and_not_retried(faults, fast_retry) -> None:
    session, adapter = faults([(401, b"Unauthorized")])
    with pytest.raises(AuthError) as info:
        make("https://igw.example", fast_retry, session=session).account_status()
    assert info.value.http_status == 401
    assert len(adapter.sent) == 1


def test_unparseable_success_is_response_error(faults, fast_retry) -> None:
    session, adapter = faults([(200, b"<html>oops</html>")])
    with pytest.raises(ResponseError):
        make("https://igw.example", fast_retry, session=session).account_status()
    assert len(adapter.sent) == 1


# ---------------------------------------------------------------- retries


def test_retries_keep_reqid_and_resign(faults, fast_retry) -> None:
    session, adapter = faults(
        [
            requests.ConnectTimeout("connect timed out"),
            requests.ReadTimeout("read timed out"),
            requests.ConnectionError("Connection reset by peer"),
            (200, {"error": 0, "subid": "S9"}),
        ]
    )
    result = make("https://igw.example", fast_retry, session=session).bind_axb(
        x_number="170", a_number="a", b_number="b", reqid="same-reqid", ttl=60
    )
    assert result.vendor_binding_id == "S9"
    assert len(adapter.sent) == 4
    bodies = {parse_qs(r.body)["reqid"][0] for r in adapter.sent}  # type: ignore[arg-type]
    assert bodies == {"same-reqid"}
    for request in adapter.sent:
        assert request.headers["Authorization"].startswith(f"Keytime {DEVID},")


def test_5xx_and_rate_limit_retried_then_give_up(faults, fast_retry) -> None:
    session, adapter = faults(
        [(503, b"busy"), (200, {"error": 1105}), (502, b""), (500, {"error": 1500})]
    )
    with pytest.raises(TemporaryError) as info:
        make("https://igw.example", fast_retry, session=session).release_xa(x_number="170")
    assert info.value.code == "1500"
    assert len(adapter.sent) == 4


def test_network_error_after_max_attempts(faults, fast_retry) -> None:
    session, adapter = faults([requests.ReadTimeout("slow")] * 4)
    with pytest.raises(NetworkError):
        make("https://igw.example", fast_retry, session=session).account_status()
    assert len(adapter.sent) == 4


def test_backoff_sleeps_between_attempts(faults) -> None:
    from vendors import RetryPolicy

    session, _ = faults([(503, b""), (503, b""), (200, {"error": 0})])
    client = make("https://igw.example", RetryPolicy(backoff=0.5, jitter=False), session=session)
    slept: list[float] = []
    client._sleep = slept.append
    client.release_axb(subid="s")
    assert slept == [0.5, 1.0]


# ---------------------------------------------------------------- callbacks

CDR_FORM = (
    "devid=10000000&appid=app-001&taskid=T100&subid=SUB123&caller=13800000001"
    "&rcaller=17011110000&callee=13900000002&result=answered&beginTime=1700000000"
    "&ringTime=1700000003&answerTime=1700000008&releaseTime=1700000068&duration=60"
    "&recording=https%3A%2F%2Frec.example%2Fa.wav&userData=dXNlcg%3D%3D&releasedir=2"
)


def test_cdr_form() -> None:
    client = make("https://igw.example", None)
    (record,) = client.parse_callback(
        "cdr", body=CDR_FORM.encode(), content_type="application/x-www-form-urlencoded"
    )
    assert record.vendor == "igw" and record.call_id == "T100"
    assert record.vendor_binding_id == "SUB123"
    assert (record.caller, record.callee, record.x_number) == (
        "13800000001",
        "13900000002",
        "17011110000",
    )
    assert record.outcome is CallOutcome.ANSWERED and record.raw_code == "answered"
    assert record.begin_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert record.ring_at == datetime(2023, 11, 14, 22, 13, 23, tzinfo=UTC)
    assert record.answer_at == datetime(2023, 11, 14, 22, 13, 28, tzinfo=UTC)
    assert record.release_at == datetime(2023, 11, 14, 22, 14, 28, tzinfo=UTC)
    assert record.duration == 60 and record.release_side == "callee"
    assert record.recording_url == "https://rec.example/a.wav"
    assert record.user_data == "dXNlcg=="
    assert record.raw["devid"] == DEVID


def test_cdr_json_and_minimal() -> None:
    client = make("https://igw.example", None)
    body = (
        b'{"devid":"10000000","appid":"app-001","taskid":"T1","subid":"S","caller":"1",'
        b'"rcaller":"2","callee":"3","result":"17","beginTime":1700000000}'
    )
    (record,) = client.parse_callback("cdr", body=body, content_type="application/json")
    assert record.outcome is CallOutcome.BUSY
    assert record.raw_text == "用户忙"
    assert record.answer_at is None and record.duration == 0 and record.release_side == ""


def _cdr(result: str, answer: int = 0) -> bytes:
    # Only the fields the outcome depends on: no ring, release, duration or side.
    dropped = dict.fromkeys(("ringTime", "releaseTime", "duration", "releasedir"))
    return urlencode(igw_cdr(result=result, answerTime=str(answer), **dropped)).encode()


# Every §5.2 value, written out here so a change to the table is a visible diff.
EXPECTED_OUTCOMES = {
    "answered": "answered",
    "1": "invalid_number",
    "2": "unreachable",
    "3": "unreachable",
    "4": "unreachable",
    "16": "no_answer",
    "17": "busy",
    "18": "no_answer",
    "19": "no_answer",
    "20": "no_answer",
    "21": "rejected",
    "22": "invalid_number",
    "27": "unreachable",
    "28": "invalid_number",
    "29": "failed",
    "31": "no_answer",
    "34": "unreachable",
    "42": "unreachable",
    "50": "blocked",
    "53": "blocked",
    "55": "blocked",
    "57": "blocked",
    "58": "unreachable",
    "65": "failed",
    "69": "failed",
    "87": "blocked",
    "88": "failed",
    "90": "blocked",
    "91": "failed",
    "95": "failed",
    "97": "failed",
    "99": "failed",
    "102": "failed",
    "103": "failed",
    "110": "failed",
    "111": "failed",
    "127": "failed",
    "202": "busy",
    "203": "unreachable",
    "204": "unreachable",
    "205": "invalid_number",
    "206": "blocked",
    "207": "blocked",
    "209": "blocked",
}


def test_every_documented_result_code_is_mapped() -> None:
    assert set(RESULT_OUTCOMES) == set(EXPECTED_OUTCOMES)


@pytest.mark.parametrize(("result", "outcome"), sorted(EXPECTED_OUTCOMES.items()))
def test_result_code_outcome(result: str, outcome: str) -> None:
    client = make("https://igw.example", None)
    (record,) = client.parse_callback("cdr", body=_cdr(result), content_type="")
    assert record.outcome == CallOutcome(outcome)
    assert record.raw_code == result and record.raw_text


@pytest.mark.parametrize("result", ["16", "31"])
def test_normal_clearing_with_answer_time_is_answered(result: str) -> None:
    client = make("https://igw.example", None)
    (record,) = client.parse_callback("cdr", body=_cdr(result, 1700000005), content_type="")
    assert record.outcome is CallOutcome.ANSWERED


def test_unknown_result_is_other() -> None:
    client = make("https://igw.example", None)
    (record,) = client.parse_callback("cdr", body=_cdr("999"), content_type="")
    assert record.outcome is CallOutcome.OTHER and record.raw_text == ""


@pytest.mark.parametrize(
    ("value", "side"), [("0", "platform"), ("1", "caller"), ("2", "callee"), ("7", "")]
)
def test_releasedir(value: str, side: str) -> None:
    body = _cdr("answered") + f"&releasedir={value}".encode()
    (record,) = make("https://igw.example", None).parse_callback("cdr", body=body, content_type="")
    assert record.release_side == side


def test_call_start() -> None:
    body = urlencode(igw_call_start(taskid="T7", subid="S7")).encode()
    (event,) = make("https://igw.example", None).parse_callback(
        "call-start", body=body, content_type="application/x-www-form-urlencoded"
    )
    assert event.kind == "call_start" and event.call_id == "T7"
    assert event.occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (event.x_number, event.vendor_binding_id, event.user_data) == (
        "17012345678",
        "S7",
        "order-42",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"\xff\xfe", "UTF-8"),
        (b"devid=d&taskid=T&result=answered", "beginTime"),
        (b"devid=d&result=answered&beginTime=1700000000", "taskid"),
        (b"taskid=T&beginTime=1700000000", "result"),
        (b"taskid=T&result=answered&beginTime=abc", "beginTime"),
        (b"taskid=T&result=answered&beginTime=99999999999999999", "beginTime"),
        (b'{"taskid": ["T"], "result": "answered", "beginTime": 1}', "taskid"),
        (b"[1,2]", "object"),
        (b"<xml/>", "XML"),
    ],
)
def test_malformed_cdr(body: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        make("https://igw.example", None).parse_callback("cdr", body=body, content_type="")


def test_unknown_kind() -> None:
    with pytest.raises(InvalidPayload, match="unknown callback kind"):
        make("https://igw.example", None).parse_callback("status", body=b"x=1", content_type="")


def test_authenticate_callback() -> None:
    client = make("https://igw.example", None)
    client.authenticate_callback("cdr", headers={}, body=CDR_FORM.encode(), url="https://us/cb")
    with pytest.raises(CallbackAuthError) as info:
        client.authenticate_callback(
            "cdr", headers={}, body=b"devid=999&appid=app-001", url="https://us/cb"
        )
    assert "devid" in info.value.reason
    assert info.value.expected == "devid=10000000" and info.value.received == "devid=999"
    with pytest.raises(CallbackAuthError) as info:
        client.authenticate_callback(
            "cdr", headers={}, body=b"devid=10000000&appid=other", url="https://us/cb"
        )
    assert "appid" in info.value.reason and info.value.received == "appid=other"
    with pytest.raises(CallbackAuthError):
        client.authenticate_callback("cdr", headers={}, body=b"\xff", url="https://us/cb")


@pytest.mark.parametrize("epoch", [253402300799, 1, 946684799])
def test_implausible_cdr_times_are_invalid(epoch: int) -> None:
    """9999-12-31T23:59:59Z overflowed on display in Asia/Shanghai; 1970 and 1999
    are no more plausible for a call on this platform."""
    times = dict.fromkeys(("beginTime", "ringTime", "answerTime", "releaseTime"), str(epoch))
    body = urlencode(igw_cdr(**times)).encode()
    client = make("https://igw.example", None)
    with pytest.raises(InvalidPayload, match=r"begin_at .* outside the plausible window"):
        client.parse_callback("cdr", body=body, content_type="")
