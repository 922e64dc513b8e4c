"""ccp: sig/Authorization (with the official SDK as oracle), JSON and XML wire
formats, sub-account signing, statusCode handling, hangup callback."""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from vendors import (
    CallbackAuthError,
    CallOutcome,
    InvalidPayload,
    NetworkError,
    PermissionDenied,
    TemporaryError,
    VendorError,
)
from vendors.ccp import (
    CcpClient,
    beijing_timestamp,
    platform_authorization,
    sign,
    verify_platform_authorization,
)

SID = "a" * 32
TOKEN = "0123456789abcdef0123456789abcdef"
APP = "8a48b5514a9e4570014a9f056aa300ec"


def make(base_url: str, retry=None, fmt: str = "json", **kw) -> CcpClient:
    return CcpClient(
        base_url=base_url,
        account_id=SID,
        secret=TOKEN,
        app_id=APP,
        extra={"format": fmt, **kw.pop("extra", {})},
        retry=retry,
        **kw,
    )


# ---------------------------------------------------------------- signing


def test_sign_fixed_vector() -> None:
    # openssl md5 of SID+TOKEN+ts, upper-cased; base64 of "SID:ts"
    assert sign(SID, TOKEN, "20140416142030") == (
        "F797993BA9644D5A7D01EC23A5AEB44A",
        "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE6MjAxNDA0MTYxNDIwMzA=",
    )


def test_sign_matches_official_sdk(capsys) -> None:
    from ronglian_sms_sdk import SmsSDK

    sdk = SmsSDK(SID, TOKEN, APP)
    ts = "20240229235959"
    sdk_sig = sdk._SmsSDK__buildSign(ts)
    sdk_auth = sdk._SmsSDK__buildAuthorization(ts)
    capsys.readouterr()  # the SDK prints its plaintext (with the token!) to stdout
    sig, auth = sign(SID, TOKEN, ts)
    assert sig == sdk_sig
    assert auth == (sdk_auth.decode() if isinstance(sdk_auth, bytes) else sdk_auth)


def test_beijing_timestamp() -> None:
    assert beijing_timestamp(datetime(2014, 4, 16, 6, 20, 30, tzinfo=UTC)) == "20140416142030"
    assert beijing_timestamp(datetime(2023, 12, 31, 16, 0, 0, tzinfo=UTC)) == "20240101000000"
    assert len(beijing_timestamp()) == 14


def test_platform_authorization_roundtrip() -> None:
    # The guide's own example: MAC EC-55-F9-C7-62-CE, AuthToken 123456
    assert (
        platform_authorization("EC-55-F9-C7-62-CE", "123456") == "RUMtNTUtRjktQzctNjItQ0U6MTIzNDU2"
    )
    verify_platform_authorization("RUMtNTUtRjktQzctNjItQ0U6MTIzNDU2", token="123456")
    verify_platform_authorization(
        "RUMtNTUtRjktQzctNjItQ0U6MTIzNDU2", token="123456", mac="ec-55-f9-c7-62-ce"
    )
    with pytest.raises(CallbackAuthError, match="AuthToken"):
        verify_platform_authorization("RUMtNTUtRjktQzctNjItQ0U6MTIzNDU2", token="654321")
    with pytest.raises(CallbackAuthError, match="MAC"):
        verify_platform_authorization(
            "RUMtNTUtRjktQzctNjItQ0U6MTIzNDU2", token="123456", mac="00-00-00-00-00-00"
        )
    with pytest.raises(CallbackAuthError, match="Base64"):
        verify_platform_authorization("%%%", token="123456")


def test_callback_auth_never_echoes_the_token() -> None:
    client = make("https://ccp.example")
    wrong = platform_authorization("EC-55-F9-C7-62-CE", "not-the-token-zzz")
    with pytest.raises(CallbackAuthError) as info:
        client.authenticate_callback(
            "cdr", headers={"authorization": wrong}, body=b"", url="https://us/cb"
        )
    text = str(info.value)
    assert "not-the-token-zzz" not in text and wrong not in text and TOKEN not in text
    client.authenticate_callback(
        "cdr",
        headers={"Authorization": platform_authorization("EC-55-F9-C7-62-CE", TOKEN)},
        body=b"",
        url="https://us/cb",
    )
    with pytest.raises(CallbackAuthError, match="missing"):
        client.authenticate_callback("cdr", headers={}, body=b"", url="https://us/cb")


# ---------------------------------------------------------------- wire format


def _check_signed(req, sid: str, token: str) -> None:
    query = parse_qs(urlsplit(req.path).query)
    auth = base64.b64decode(req.headers["Authorization"]).decode()
    got_sid, ts = auth.split(":")
    assert got_sid == sid and len(ts) == 14
    expected = hashlib.md5(f"{sid}{token}{ts}".encode()).hexdigest().upper()
    assert query == {"sig": [expected]}


def test_create_sub_account_json(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "SubAccount": {
                "subAccountSid": "b" * 32,
                "subToken": "SUBTOKEN",
                "voipAccount": "80000000001",
                "voipPwd": "VOIPPWD",
                "dateCreated": "2013-02-01 15:53:06",
            },
        },
    )
    sub = make(vendor_server.base_url).create_sub_account("shop-1")
    req = vendor_server.requests[0]
    assert req.method == "POST"
    assert urlsplit(req.path).path == f"/Accounts/{SID}/SubAccounts"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Content-Type"] == "application/json;charset=utf-8"
    assert json.loads(req.body) == {"appId": APP, "friendlyName": "shop-1"}
    _check_signed(req, SID, TOKEN)
    assert sub.sub_account_sid == "b" * 32 and sub.sub_token == "SUBTOKEN"
    assert (sub.voip_account, sub.voip_password) == ("80000000001", "VOIPPWD")
    assert sub.friendly_name == "shop-1"
    assert sub.created_at == datetime(2013, 2, 1, 7, 53, 6, tzinfo=UTC)
    assert "SUBTOKEN" not in repr(sub.raw) and "VOIPPWD" not in repr(sub.raw)


def test_create_sub_account_as_the_guide_reads_it(vendor_server) -> None:
    """Guide §2.5.1's PHP reads SubAccount.accountSid and .type, with statusCode 0."""
    vendor_server.answer(
        200,
        {
            "statusCode": "0",
            "SubAccount": {
                "accountSid": "c" * 32,
                "subToken": "SUBTOKEN",
                "voipAccount": "80000000002",
                "voipPwd": "VOIPPWD",
                "type": "1",
                "dateCreated": "2013-02-01 15:53:06",
            },
        },
    )
    sub = make(vendor_server.base_url).create_sub_account("shop-2")
    assert sub.sub_account_sid == "c" * 32 and sub.type == "1"
    assert sub.sub_token == "SUBTOKEN" and "SUBTOKEN" not in repr(sub.raw)


def test_create_sub_account_xml(vendor_server) -> None:
    vendor_server.answer(
        200,
        "<?xml version='1.0' encoding='utf-8'?><Response><statusCode>000000</statusCode>"
        "<SubAccount><subAccountSid>SUBSID</subAccountSid><subToken>T</subToken>"
        "<voipAccount>8001</voipAccount><voipPwd>P</voipPwd>"
        "<dateCreated>20130201155306</dateCreated></SubAccount></Response>",
        content_type="application/xml",
    )
    sub = make(vendor_server.base_url, fmt="xml").create_sub_account("名字")
    req = vendor_server.requests[0]
    assert req.headers["Accept"] == "application/xml"
    assert req.headers["Content-Type"] == "application/xml;charset=utf-8"
    root = ET.fromstring(req.body)
    assert root.tag == "SubAccount"
    assert {c.tag: c.text for c in root} == {"appId": APP, "friendlyName": "名字"}
    assert sub.sub_account_sid == "SUBSID"
    assert sub.created_at == datetime(2013, 2, 1, 7, 53, 6, tzinfo=UTC)


def test_query_sub_accounts(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "totalCount": "2",
            "SubAccount": [
                {"subAccountSid": "S1", "friendlyName": "a"},
                {"subAccountSid": "S2", "friendlyName": "b"},
            ],
        },
    )
    subs = make(vendor_server.base_url).query_sub_accounts(start=10, count=2)
    assert [s.sub_account_sid for s in subs] == ["S1", "S2"]
    req = vendor_server.requests[0]
    assert urlsplit(req.path).path == f"/Accounts/{SID}/GetSubAccounts"
    assert json.loads(req.body) == {"appId": APP, "startNo": "10", "offset": "2"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_query_sub_account_by_name(vendor_server, fmt) -> None:
    """The official SDK's querySubAccount: appId + friendlyName, one SubAccount back."""
    if fmt == "json":
        vendor_server.answer(
            200,
            {
                "statusCode": "000000",
                "SubAccount": {"subAccountSid": "S9", "subToken": "T", "voipPwd": "P"},
            },
        )
    else:
        vendor_server.answer(
            200,
            "<Response><statusCode>000000</statusCode><SubAccount><subAccountSid>S9"
            "</subAccountSid><subToken>T</subToken><voipPwd>P</voipPwd></SubAccount></Response>",
            content_type="application/xml",
        )
    sub = make(vendor_server.base_url, fmt=fmt).query_sub_account_by_name("店铺 1")
    assert (sub.sub_account_sid, sub.sub_token, sub.friendly_name) == ("S9", "T", "店铺 1")
    assert "subToken" not in sub.raw and "voipPwd" not in sub.raw
    req = vendor_server.requests[0]
    assert urlsplit(req.path).path == f"/Accounts/{SID}/QuerySubAccountByName"
    assert "sig" in parse_qs(urlsplit(req.path).query)
    if fmt == "json":
        assert json.loads(req.body) == {"appId": APP, "friendlyName": "店铺 1"}
    else:
        root = ET.fromstring(req.body)
        assert root.tag == "SubAccount"
        assert (root.findtext("appId"), root.findtext("friendlyName")) == (APP, "店铺 1")


def test_query_sub_account_by_name_unknown_is_not_found(vendor_server) -> None:
    from vendors import NotFound

    vendor_server.answer(200, {"statusCode": "111130", "statusMsg": "子账户不存在"})
    with pytest.raises(NotFound) as caught:
        make(vendor_server.base_url).query_sub_account_by_name("nobody")
    assert (caught.value.code, caught.value.message) == ("111130", "子账户不存在")


def test_send_sms(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "SMSMessage": {"dateCreated": "20130201155306", "smsMessageSid": "MSG1"},
        },
    )
    result = make(vendor_server.base_url).send_sms(["13800000001", "13800000002"], "你好")
    assert result.message_id == "MSG1"
    req = vendor_server.requests[0]
    assert urlsplit(req.path).path == f"/Accounts/{SID}/SMS/Messages"
    assert json.loads(req.body) == {
        "to": "13800000001,13800000002",
        "body": "你好",
        "msgType": "0",
        "appId": APP,
        "subAccountSid": "",
    }


def test_send_template_sms_json_key(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "templateSMS": {"dateCreated": "20130201155306", "smsMessageSid": "ff80"},
        },
    )
    result = make(vendor_server.base_url).send_template_sms(["13800000001"], "1", ["123", "5"])
    assert result.message_id == "ff80"
    assert json.loads(vendor_server.requests[0].body) == {
        "to": "13800000001",
        "appId": APP,
        "templateId": "1",
        "datas": ["123", "5"],
    }


def test_send_template_sms_xml_key(vendor_server) -> None:
    vendor_server.answer(
        200,
        "<Response><statusCode>000000</statusCode><TemplateSMS>"
        "<dateCreated>20130201155306</dateCreated><smsMessageSid>ff81</smsMessageSid>"
        "</TemplateSMS></Response>",
        content_type="application/xml",
    )
    result = make(vendor_server.base_url, fmt="xml").send_template_sms(["1"], "1", ["a", "b"])
    assert result.message_id == "ff81"
    root = ET.fromstring(vendor_server.requests[0].body)
    assert root.tag == "TemplateSMS"
    assert [d.text for d in root.find("datas")] == ["a", "b"]


def test_callback_call_signed_with_sub_account(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "CallBack": {"callSid": "CALL1", "dateCreated": "2013-02-01 15:53:06"},
        },
    )
    result = make(vendor_server.base_url).two_way_call(
        sub_account_sid="SUBSID",
        sub_token="SUBTOKEN",
        from_number="13800000001",
        to_number="13900000002",
        user_data="x",
    )
    assert result.call_sid == "CALL1"
    req = vendor_server.requests[0]
    assert urlsplit(req.path).path == "/SubAccounts/SUBSID/Calls/Callback"
    _check_signed(req, "SUBSID", "SUBTOKEN")
    assert json.loads(req.body) == {"from": "13800000001", "to": "13900000002", "userData": "x"}


def test_two_way_call_sends_the_sdks_optional_fields_by_their_documented_names(
    vendor_server,
) -> None:
    vendor_server.answer(200, {"statusCode": "000000", "CallBack": {"callSid": "C9"}})
    make(vendor_server.base_url).two_way_call(
        sub_account_sid="SUBSID",
        sub_token="SUBTOKEN",
        from_number="13800000001",
        to_number="13900000002",
        customer_ser_num="02560000001",
        from_ser_num="02560000002",
        prompt_tone="hello.wav",
        always_play=True,
        terminal_dtmf="#",
        user_data="order-9",
        max_call_time=600,
        hangup_cdr_url="https://us.example/cdr",
        need_both_cdr=False,
        need_record=True,
        count_down_time=540,
        count_down_prompt="one-minute.wav",
    )
    assert json.loads(vendor_server.requests[0].body) == {
        "from": "13800000001",
        "to": "13900000002",
        "customerSerNum": "02560000001",
        "fromSerNum": "02560000002",
        "promptTone": "hello.wav",
        "alwaysPlay": "true",
        "terminalDtmf": "#",
        "userData": "order-9",
        "maxCallTime": "600",
        "hangupCdrUrl": "https://us.example/cdr",
        "needBothCdr": "0",
        "needRecord": "1",
        "countDownTime": "540",
        "countDownPrompt": "one-minute.wav",
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"from_ser_num": "abc"}, "fromSerNum"),
        ({"customer_ser_num": "12"}, "customerSerNum"),
        ({"prompt_tone": "a.mp3"}, "promptTone"),
        ({"terminal_dtmf": "12"}, "terminalDtmf"),
        ({"user_data": "x" * 257}, "userData"),
        ({"max_call_time": 0}, "maxCallTime"),
        ({"max_call_time": -5}, "maxCallTime"),
        ({"hangup_cdr_url": "ftp://x"}, "hangupCdrUrl"),
        ({"count_down_time": 60, "max_call_time": 60}, "countDownTime"),
        ({"count_down_prompt": "x.wav"}, "countDownPrompt"),
    ],
)
def test_two_way_call_refuses_a_bad_optional_field_before_sending(
    vendor_server, kwargs, field
) -> None:
    with pytest.raises(ValueError, match=field):
        make(vendor_server.base_url).two_way_call(
            sub_account_sid="S", sub_token="T", from_number="1380000", to_number="1390000", **kwargs
        )
    assert vendor_server.requests == []


def test_account_info(vendor_server) -> None:
    vendor_server.answer(
        200,
        {
            "statusCode": "000000",
            "Account": {"balance": "100.50", "status": "1", "dateCreated": "2013-02-01 15:53:06"},
        },
    )
    status = make(vendor_server.base_url).account_info()
    assert urlsplit(vendor_server.requests[0].path).path == f"/Accounts/{SID}/AccountInfo"
    assert vendor_server.requests[0].method == "GET"
    assert status.state == "active" and status.balance == Decimal("100.50")


# ---------------------------------------------------------------- status codes


@pytest.mark.parametrize("code", ["000000", "0", 0, "00", " 000000 "])
def test_any_all_zero_status_code_is_success(faults, code) -> None:
    """The SDKs compare "000000"; the guide's PHP compares loosely with 0."""
    ok = {"statusCode": code, "SMSMessage": {"smsMessageSid": "M1"}}
    session, _ = faults([(200, ok)])
    assert make("https://ccp.example", session=session).send_sms(["1"], "x").message_id == "M1"


def test_all_zero_status_code_in_xml_is_success(vendor_server) -> None:
    vendor_server.answer(
        200,
        "<Response><statusCode>0</statusCode><Account><status>1</status></Account></Response>",
        content_type="application/xml",
    )
    assert make(vendor_server.base_url, fmt="xml").account_info().state == "active"


@pytest.mark.parametrize("code", ["111000", "160038", "000001", "0.0", "-0", False, "", "０"])
def test_other_status_codes_are_errors(faults, code) -> None:
    session, adapter = faults([(200, {"statusCode": code, "statusMsg": "失败"})])
    with pytest.raises(VendorError) as info:
        make("https://ccp.example", session=session).send_sms(["1"], "x")
    assert not info.value.retryable and len(adapter.sent) == 1
    if code:
        assert info.value.code == str(code) and info.value.message == "失败"


def test_http_fallbacks(faults, fast_retry) -> None:
    session, adapter = faults([(403, b"")])
    with pytest.raises(PermissionDenied):
        make("https://ccp.example", fast_retry, session=session).account_info()
    session, adapter = faults([(500, b"")] * 4)
    with pytest.raises(TemporaryError):
        make("https://ccp.example", fast_retry, session=session).account_info()
    assert len(adapter.sent) == 4


def test_non_idempotent_sms_is_not_retried_after_read_timeout(faults, fast_retry) -> None:
    session, adapter = faults([requests.ReadTimeout("slow"), (200, {"statusCode": "000000"})])
    with pytest.raises(NetworkError):
        make("https://ccp.example", fast_retry, session=session).send_sms(["1"], "x")
    assert len(adapter.sent) == 1
    # A 5xx may also have acted on a non-idempotent request: not retried either.
    session, adapter = faults([(502, b""), (200, {"statusCode": "000000"})])
    with pytest.raises(TemporaryError):
        make("https://ccp.example", fast_retry, session=session).send_sms(["1"], "x")
    assert len(adapter.sent) == 1


def test_non_idempotent_sms_retried_when_never_sent(faults, fast_retry) -> None:
    ok = {"statusCode": "000000", "SMSMessage": {"smsMessageSid": "M"}}
    session, adapter = faults([requests.ConnectTimeout("no route"), (200, ok)])
    assert (
        make("https://ccp.example", fast_retry, session=session).send_sms(["1"], "x").message_id
        == "M"
    )
    assert len(adapter.sent) == 2
    # Fresh timestamp per attempt means a fresh sig; both must verify.
    sigs = [parse_qs(urlsplit(r.url).query)["sig"][0] for r in adapter.sent]
    assert all(len(s) == 32 and s == s.upper() for s in sigs)


def test_log_path_has_no_sig(vendor_server, caplog) -> None:
    vendor_server.answer(200, {"statusCode": "000000", "Account": {"status": "1"}})
    with caplog.at_level("INFO", logger="vendors"):
        make(vendor_server.base_url).account_info()
    assert caplog.records[0].path == f"/Accounts/{SID}/AccountInfo"
    assert "sig" not in caplog.text and TOKEN not in caplog.text


# ---------------------------------------------------------------- hangup callback

HANGUP_XML = (
    b"<?xml version='1.0' encoding='UTF-8'?><Request><action>Hangup</action>"
    b"<callSid>CALL1</callSid><caller>13800000001</caller><called>13900000002</called>"
    b"<starttime>20240101120000</starttime><endtime>20240101120130</endtime>"
    b"<byetype>2</byetype><recordurl>https://rec.example/1.wav</recordurl>"
    b"<userData>u1</userData></Request>"
)


def test_hangup_xml() -> None:
    (record,) = make("https://ccp.example").parse_callback(
        "cdr", body=HANGUP_XML, content_type="application/xml"
    )
    assert record.call_id == "CALL1" and record.vendor == "ccp"
    assert (record.caller, record.callee) == ("13800000001", "13900000002")
    assert record.outcome is CallOutcome.ANSWERED and record.release_side == "callee"
    assert record.answer_at == datetime(2024, 1, 1, 4, 0, 0, tzinfo=UTC)
    assert record.release_at == datetime(2024, 1, 1, 4, 1, 30, tzinfo=UTC)
    assert record.duration == 90
    assert record.recording_url == "https://rec.example/1.wav" and record.user_data == "u1"


def test_hangup_json_not_answered() -> None:
    body = json.dumps(
        {"action": "Hangup", "callSid": "C2", "caller": "1", "called": "2", "byetype": "-2"}
    ).encode()
    (record,) = make("https://ccp.example").parse_callback(
        "cdr", body=body, content_type="application/json"
    )
    assert record.outcome is CallOutcome.BUSY and record.duration == 0


@pytest.mark.parametrize(
    ("action", "kind"), [("CallAuth", "call_start"), ("CallEstablish", "answer")]
)
def test_call_events(action, kind) -> None:
    body = (
        f"<Request><action>{action}</action><callSid>CALL1</callSid><caller>13800000001</caller>"
        f"<called>13900000002</called><userData>u1</userData><time>2024-01-01 12:00:05</time>"
        "</Request>"
    ).encode()
    (event,) = make("https://ccp.example").parse_callback(
        "cdr", body=body, content_type="application/xml"
    )
    assert (event.call_id, event.kind, event.vendor, event.user_data) == (
        "CALL1",
        kind,
        "ccp",
        "u1",
    )
    assert event.occurred_at == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
    assert (event.caller, event.callee) == ("13800000001", "13900000002")


@pytest.mark.parametrize(
    "body",
    [
        b"<Request><action>CallEstablish</action><time>2024-01-01 12:00:05</time></Request>",
        b"<Request><action>Hangup</action></Request>",
        b"<Request><action>CallAuth</action><callSid>x</callSid></Request>",
        b"<Request><action>Hangup</action><callSid>x</callSid><starttime>nope</starttime></Request>",
        b"<Request><action>Hangup",
        b'<!DOCTYPE r [<!ENTITY a "aaaa">]><Request><action>&a;</action></Request>',
        b"{}",
    ],
)
def test_malformed_hangup(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        make("https://ccp.example").parse_callback("cdr", body=body, content_type="")


def test_format_option_is_validated() -> None:
    with pytest.raises(ValueError, match="format"):
        make("https://ccp.example", fmt="yaml")


def test_a_reply_nested_too_deep_to_parse_decodes_to_nothing() -> None:
    response = requests.Response()
    response._content = b"[" * 100_000 + b"]" * 100_000
    response.headers["Content-Type"] = "application/json"
    assert make("http://127.0.0.1:9")._decode(response) is None
