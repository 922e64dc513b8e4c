"""huawei: AKSK/X-AKSK signing, push verification, result-code table, callVerify
request, status and fee pushes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from vendors import (
    AuthError,
    CallbackAuthError,
    CallOutcome,
    InvalidPayload,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    TemporaryError,
    VendorError,
)
from vendors.huawei import (
    AUTHORIZATION,
    HuaweiClient,
    aksk_headers,
    parse_x_aksk,
    password_digest,
    push_digest,
    push_headers,
    x_aksk_summary,
)

KEY, SECRET = "ZRBRz4bAXoFgEH7o4Ew308eXc1RA", "appsecret123"
NONCE, CREATED = "66C92B11FF8A425FB8D4CCFE0ED9ED1F", "2018-02-12T15:30:20Z"
PUSH_URL = "https://cb.example.com/hooks/huawei/tok123/status"


def make(base_url: str = "https://rtccall.example:443", retry=None, **kw) -> HuaweiClient:
    return HuaweiClient(base_url=base_url, account_id=KEY, secret=SECRET, retry=retry, **kw)


# ---------------------------------------------------------------- signing


def test_password_digest_fixed_vector() -> None:
    # printf NONCE+CREATED | openssl dgst -sha256 -hmac appsecret123 -binary | base64
    digest = password_digest(SECRET, NONCE, CREATED)
    assert digest == "6E8VAvgeb5VN6aTWcE4jYFExZTLb1v5Rbj8rNeM2ni0="
    assert len(digest) == 44  # raw 32 bytes, not the 64-char hex string


def test_push_digest_fixed_vector() -> None:
    assert push_digest(SECRET, PUSH_URL, NONCE, CREATED) == (
        "uk6cBpVzPk/qUv259eOuXH8X2bCxYOEDy9FYrEj5/Fg="
    )


def test_aksk_headers_exact() -> None:
    headers = aksk_headers(KEY, SECRET, nonce=NONCE, created=CREATED)
    assert headers == {
        "Authorization": 'AKSK realm="SDP",profile="UsernameToken",type="Appkey"',
        "X-AKSK": (
            f'UsernameToken Username="{KEY}",'
            'PasswordDigest="6E8VAvgeb5VN6aTWcE4jYFExZTLb1v5Rbj8rNeM2ni0=",'
            f'Nonce="{NONCE}",Created="{CREATED}"'
        ),
    }


def test_push_headers_exact() -> None:
    digest = push_digest(SECRET, PUSH_URL, NONCE, CREATED)
    assert push_headers(KEY, SECRET, PUSH_URL, nonce=NONCE, created=CREATED) == {
        "Authorization": AUTHORIZATION,
        "X-AKSK": (
            f'UsernameToken Username="{KEY}",PasswordDigest="{digest}",'
            f'Nonce="{NONCE}",Created="{CREATED}"'
        ),
    }


def test_push_headers_fresh_values_pass_the_push_check() -> None:
    headers = push_headers(KEY, SECRET, PUSH_URL)
    assert headers != push_headers(KEY, SECRET, PUSH_URL)  # a new nonce each time
    make().authenticate_callback("status", headers=headers, body=b"{}", url=PUSH_URL)


def test_aksk_headers_fresh_values() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    parts = parse_x_aksk(aksk_headers(KEY, SECRET)["X-AKSK"])
    nonce, created = parts["Nonce"], parts["Created"]
    assert len(nonce) == 32 and nonce == nonce.upper() and int(nonce, 16) >= 0
    when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= when <= before + timedelta(seconds=5)  # real UTC, not local time
    raw = hmac.new(SECRET.encode(), (nonce + created).encode(), hashlib.sha256).digest()
    assert parts["PasswordDigest"] == base64.b64encode(raw).decode()
    assert aksk_headers(KEY, SECRET)["X-AKSK"] != aksk_headers(KEY, SECRET)["X-AKSK"]


@pytest.mark.parametrize(
    "value",
    [
        'UsernameToken Username="u",PasswordDigest="d=",Nonce="n",Created="c"',
        'UsernameToken Username="u", PasswordDigest="d=", Nonce="n", Created="c"',
        'UsernameToken Username = "u" ,  PasswordDigest="d=",Nonce="n",Created="c"',
    ],
)
def test_parse_x_aksk_tolerates_spaces(value: str) -> None:
    assert parse_x_aksk(value) == {
        "Username": "u",
        "PasswordDigest": "d=",
        "Nonce": "n",
        "Created": "c",
    }


def test_parse_x_aksk_rejects_other_schemes() -> None:
    with pytest.raises(ValueError):
        parse_x_aksk('Digest Username="u"')


# ---------------------------------------------------------------- callVerify


def test_call_verify_request(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "resultcode": "0",
            "resultdesc": "Success",
            "sessionId": "1200_366_0_20161228102743@callenabler.home1.com",
            "idlePort": 12,
        },
    )
    result = make(vendor_server.base_url).call_verify(
        display_number="+8675528000088",
        callee_number="+8618900000007",
        verify_code="12345678",
        pre_tone="welcome.wav",
        status_url="https://cb.example.com/status",
        fee_url="https://cb.example.com/fee",
        return_idle_port=True,
        user_data="cwgtest",
    )
    assert result.session_id == "1200_366_0_20161228102743@callenabler.home1.com"
    assert result.idle_ports == 12
    req = vendor_server.requests[0]
    assert (req.method, req.path) == ("POST", "/rest/httpsessions/callVerify/v1.0")
    assert req.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert req.headers["Authorization"] == AUTHORIZATION
    parts = parse_x_aksk(req.headers["X-AKSK"])
    assert parts["Username"] == KEY
    assert parts["PasswordDigest"] == password_digest(SECRET, parts["Nonce"], parts["Created"])
    assert json.loads(req.body) == {
        "displayNbr": "+8675528000088",
        "calleeNbr": "+8618900000007",
        "languageType": 2,
        "preTone": "welcome.wav",
        "verifyCode": "12345678",
        "times": 3,
        "statusUrl": base64.b64encode(b"https://cb.example.com/status").decode(),
        "feeUrl": base64.b64encode(b"https://cb.example.com/fee").decode(),
        "returnIdlePort": "true",
        "userData": "cwgtest",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verify_code": "1"}, "verifyCode"),
        ({"verify_code": "123456789"}, "verifyCode"),
        ({"verify_code": "12a4"}, "verifyCode"),
        ({"pre_tone": ""}, "preTone"),
        ({"pos_tone": "p" * 129}, "posTone"),
        ({"times": 10}, "times"),
        ({"times": -1}, "times"),
        ({"user_data": "{x}"}, "userData"),
        ({"user_data": "中文"}, "userData"),
    ],
)
def test_call_verify_validation(kwargs, message) -> None:
    args = {
        "display_number": "+86755",
        "callee_number": "+86189",
        "verify_code": "1234",
        "pre_tone": "p.wav",
    }
    with pytest.raises(ValueError, match=message) as exc:
        make().call_verify(**{**args, **kwargs})
    # The code is its recipient's secret: never in an error text.
    assert kwargs.get("verify_code", "1234") not in str(exc.value) or "verify_code" not in kwargs


# ---------------------------------------------------------------- result codes


def _verify(client: HuaweiClient) -> None:
    client.call_verify(
        display_number="+86755", callee_number="+86189", verify_code="1234", pre_tone="p.wav"
    )


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "1023006", AuthError),
        (400, "1023033", AuthError),
        (401, "1010010", AuthError),
        (401, "1010013", AuthError),
        (403, "1010002", InvalidRequest),
        (403, "1010003", AuthError),
        (403, "1010008", PermissionDenied),
        (403, "1010009", RateLimited),
        (403, "1010010", RateLimited),
        (403, "1013004", PermissionDenied),
        (403, "1013010", PermissionDenied),
        (403, "1020165", RateLimited),
        (403, "1020176", AuthError),
        (500, "1010001", VendorError),
        (500, "1020001", InvalidRequest),
        (500, "1020154", TemporaryError),
        (500, "1023002", TemporaryError),
    ],
)
def test_result_codes(faults, fast_retry, status, code, cls) -> None:
    session, adapter = faults([(status, {"resultcode": code, "resultdesc": "desc"})] * 4)
    with pytest.raises(cls) as info:
        _verify(make(retry=fast_retry, session=session))
    err = info.value
    assert type(err) is cls
    assert (err.code, err.http_status, err.message) == (code, status, "desc")
    assert err.message_en and err.advice
    # Documented "try again" codes are retried even without an idempotency key.
    assert len(adapter.sent) == (4 if cls.retryable else 1)


def test_1010010_depends_on_http_status(faults, fast_retry) -> None:
    session, _ = faults([(401, {"resultcode": "1010010", "resultdesc": "Invalid digest."})])
    with pytest.raises(AuthError) as info:
        _verify(make(retry=fast_retry, session=session))
    assert info.value.advice == "请检查PasswordDigest字段填写是否正确。"
    session, _ = faults([(403, {"resultcode": "1010010"})] * 4)
    with pytest.raises(RateLimited) as info:
        _verify(make(retry=fast_retry, session=session))
    assert info.value.message == "平台达到系统流控上限。"  # table text when the vendor sent none


def test_internal_500_not_retried_for_call_verify(faults, fast_retry) -> None:
    session, adapter = faults([(500, b"boom")] * 4)
    with pytest.raises(TemporaryError):
        _verify(make(retry=fast_retry, session=session))
    assert len(adapter.sent) == 1


# ---------------------------------------------------------------- pushes

STATUS_EXAMPLES = {
    "callout": b'{"eventType":"callout","statusInfo":{"sessionId":"1202_14260_4294967295_20190124024846@callenabler245.huaweicaas.com","timestamp":"2019-01-24 02:48:46","caller":"+86138****0022","called":"+86138****0021"}}',  # noqa: E501 - verbatim document example
    "alerting": b'{"eventType":"alerting","statusInfo":{"sessionId":"1202_14260_4294967295_20190124024846@callenabler245.huaweicaas.com","timestamp":"2019-01-24 02:48:47","caller":"+86138****0022","called":"+86138****0021"}}',  # noqa: E501 - verbatim document example
    "answer": b'{"eventType":"answer","statusInfo":{"sessionId":"1202_14260_4294967295_20190124024846@callenabler245.huaweicaas.com","timestamp":"2019-01-24 02:49:12","caller":"+86138****0022","called":"+86138****0021"}}',  # noqa: E501 - verbatim document example
    "disconnect": b'{"eventType":"disconnect","statusInfo":{"sessionId":"1202_14260_4294967295_20190124024846@callenabler245.huaweicaas.com","timestamp":"2019-01-24 02:49:23","caller":"+86138****0022","called":"+86138****0021","stateCode":0,"stateDesc":"The user releases the call."}}',  # noqa: E501 - verbatim document example
}
STATUS_TIMES = {
    "callout": datetime(2019, 1, 24, 2, 48, 46, tzinfo=UTC),
    "alerting": datetime(2019, 1, 24, 2, 48, 47, tzinfo=UTC),
    "answer": datetime(2019, 1, 24, 2, 49, 12, tzinfo=UTC),
    "disconnect": datetime(2019, 1, 24, 2, 49, 23, tzinfo=UTC),
}


@pytest.mark.parametrize("event", list(STATUS_EXAMPLES))
def test_documented_status_examples(event: str) -> None:
    (item,) = make().parse_callback("status", body=STATUS_EXAMPLES[event], content_type="")
    assert item.kind == event and item.vendor == "huawei"
    assert item.call_id == "1202_14260_4294967295_20190124024846@callenabler245.huaweicaas.com"
    assert item.occurred_at == STATUS_TIMES[event]
    assert (item.caller, item.callee) == ("+86138****0022", "+86138****0021")
    if event == "disconnect":
        assert (item.state_code, item.state_text) == ("0", "The user releases the call.")
    else:
        assert item.state_code == ""


FEE = {
    "eventType": "fee",
    "feeLst": [
        {
            "direction": 0,
            "spId": "sp",
            "appKey": KEY,
            "sessionId": "S-answered",
            "callerNum": "+8675528000088",
            "calleeNum": "+8618900000007",
            "fwdDisplayNum": "+8675528000088",
            "fwdStartTime": "2019-01-24 02:48:46",
            "fwdAlertingTime": "2019-01-24 02:48:47",
            "fwdAnswerTime": "2019-01-24 02:49:12",
            "callEndTime": "2019-01-24 02:49:23",
            "fwdUnaswRsn": 0,
            "ulFailReason": 0,
            "sipStatusCode": 0,
            "recordFlag": 1,
            "recordFileDownloadUrl": "https://rec.example/x.wav",
            "userData": "cwgtest",
        },
        {
            "sessionId": "S-busy",
            "callerNum": "+8675528000088",
            "calleeNum": "+8618900000008",
            "fwdStartTime": "2019-01-24 03:00:00",
            "fwdAnswerTime": "",
            "callEndTime": "2019-01-24 03:00:05",
            "fwdUnaswRsn": 486,
            "ulFailReason": "User busy",
            "sipStatusCode": 486,
        },
    ],
}


def test_fee_push_many_records() -> None:
    answered, busy = make().parse_callback(
        "cdr", body=json.dumps(FEE).encode(), content_type="application/json"
    )
    assert answered.call_id == "S-answered" and answered.outcome is CallOutcome.ANSWERED
    assert answered.begin_at == datetime(2019, 1, 24, 2, 48, 46, tzinfo=UTC)
    assert answered.ring_at == datetime(2019, 1, 24, 2, 48, 47, tzinfo=UTC)
    assert answered.answer_at == datetime(2019, 1, 24, 2, 49, 12, tzinfo=UTC)
    assert answered.release_at == datetime(2019, 1, 24, 2, 49, 23, tzinfo=UTC)
    assert answered.duration == 11
    assert answered.recording_url == "https://rec.example/x.wav"
    assert answered.user_data == "cwgtest"
    assert busy.outcome is CallOutcome.BUSY and busy.raw_code == "486"
    assert busy.raw_text == "User busy" and busy.duration == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"eventType":"fee","feeLst":[]}',
        b'{"eventType":"fee","feeLst":[1]}',
        b'{"eventType":"fee","feeLst":[{"callerNum":"1"}]}',
        b'{"eventType":"hangup","statusInfo":{}}',
        b'{"eventType":"answer","statusInfo":"x"}',
        b'{"eventType":"answer","statusInfo":{"sessionId":"s"}}',
        b'{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"24/01/2019"}}',
        b'{"eventType":"disconnect","statusInfo":{"sessionId":"s","timestamp":"2019-01-24 02:49:23","stateCode":"x"}}',  # noqa: E501 - verbatim document example
        b'{"statusInfo":{}}',
        b"eventType=answer",
    ],
)
def test_malformed_pushes(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        make().parse_callback("status", body=body, content_type="")


# ---------------------------------------------------------------- push auth

NOW = datetime(2018, 2, 12, 15, 31, 0, tzinfo=UTC)


def _push_headers(url: str = PUSH_URL, created: str = CREATED, user: str = KEY) -> dict[str, str]:
    headers = push_headers(user, SECRET, url, nonce=NONCE, created=created)
    # Lower-case names and spaces after the commas: both are accepted on pushes.
    return {
        "authorization": headers["Authorization"],
        "x-aksk": headers["X-AKSK"].replace('",', '", '),
    }


def test_push_auth_ok() -> None:
    make().authenticate_callback(
        "status", headers=_push_headers(), body=b"{}", url=PUSH_URL, now=NOW
    )


def test_push_auth_wrong_url_names_the_rule_not_the_secret() -> None:
    with pytest.raises(CallbackAuthError) as info:
        make().authenticate_callback(
            "status", headers=_push_headers(), body=b"{}", url=PUSH_URL + "x", now=NOW
        )
    err = info.value
    assert err.reason == "PasswordDigest did not match"
    assert err.expected.startswith(f"PasswordDigest computed over URL {PUSH_URL}x + nonce")
    # What an operator sees of the header: who and when, never a reusable digest/nonce.
    assert err.received.startswith(f'UsernameToken Username="{KEY}",Created="{CREATED}"')
    digest = push_digest(SECRET, PUSH_URL, NONCE, CREATED)
    assert digest not in str(err) + err.received
    assert NONCE not in str(err) + err.received
    assert SECRET not in str(err)


def test_push_auth_wrong_user_stale_missing() -> None:
    client = make(extra={"push_window_seconds": 120})
    with pytest.raises(CallbackAuthError, match="Username"):
        client.authenticate_callback(
            "status", headers=_push_headers(user="other"), body=b"", url=PUSH_URL, now=NOW
        )
    with pytest.raises(CallbackAuthError, match="away from now"):
        client.authenticate_callback(
            "status", headers=_push_headers(), body=b"", url=PUSH_URL, now=NOW + timedelta(hours=1)
        )
    with pytest.raises(CallbackAuthError, match="missing X-AKSK"):
        client.authenticate_callback("status", headers={}, body=b"", url=PUSH_URL, now=NOW)
    with pytest.raises(CallbackAuthError, match="lacks"):
        client.authenticate_callback(
            "status", headers={"X-AKSK": 'UsernameToken Username="u"'}, body=b"", url=PUSH_URL
        )


def test_push_auth_refuses_a_malformed_nonce() -> None:
    headers = {
        "X-AKSK": (
            f'UsernameToken Username="{KEY}",PasswordDigest="x",'
            f'Nonce="not-hex!",Created="{CREATED}"'
        )
    }
    with pytest.raises(CallbackAuthError, match="Nonce"):
        make().authenticate_callback("status", headers=headers, body=b"", url=PUSH_URL, now=NOW)


def test_callback_nonce_is_the_nonce_until_the_window_ends() -> None:
    nonce = make(extra={"push_window_seconds": 120}).callback_nonce(
        "status", headers=_push_headers()
    )
    assert nonce is not None
    assert nonce.value == NONCE
    assert nonce.expires_at == datetime(2018, 2, 12, 15, 30, 20, tzinfo=UTC) + timedelta(
        seconds=120
    )
    assert make().callback_nonce("status", headers={}) is None


def test_x_aksk_summary_hides_digest_and_nonce() -> None:
    value = _push_headers()["x-aksk"]
    summary = x_aksk_summary(value)
    assert summary == (
        f'UsernameToken Username="{KEY}",Created="{CREATED}" (PasswordDigest, Nonce not shown)'
    )
    assert x_aksk_summary("garbage") == "(not UsernameToken …, 7 characters)"


@pytest.mark.parametrize(
    "moment", ["9999-12-31 23:59:59", "1970-01-01 00:00:01", "1999-12-31 23:59:59"]
)
def test_implausible_push_times_are_invalid(moment: str) -> None:
    body = json.dumps(
        {"eventType": "answer", "statusInfo": {"sessionId": "s", "timestamp": moment}}
    ).encode()
    with pytest.raises(InvalidPayload, match=r"occurred_at .* outside the plausible window"):
        make().parse_callback("status", body=body, content_type="", now=NOW)


def test_a_push_time_a_little_ahead_of_our_clock_is_accepted() -> None:
    ahead = (NOW + timedelta(hours=23)).strftime("%Y-%m-%d %H:%M:%S")
    body = json.dumps(
        {"eventType": "answer", "statusInfo": {"sessionId": "s", "timestamp": ahead}}
    ).encode()
    (event,) = make().parse_callback("status", body=body, content_type="", now=NOW)
    assert event.occurred_at == NOW + timedelta(hours=23)
