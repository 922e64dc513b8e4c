"""cyj: Sig/Authorization, bind and recording requests, our CDR callback."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from vendors import CallbackAuthError, CallOutcome, InvalidPayload, VendorError
from vendors.cyj import CyjClient, sign, timestamp

SID, TOKEN, APP = "akwiKeKEKG01kfas63910IRJL6ask38fKF6", "tok0123", "app774e"


def make(base_url: str = "https://cyj.example", retry=None, **kw) -> CyjClient:
    return CyjClient(base_url=base_url, account_id=SID, secret=TOKEN, app_id=APP, retry=retry, **kw)


def test_sign_fixed_vector() -> None:
    # openssl md5 / base64 of "tok0123:app774e:20240101120000"
    assert sign(TOKEN, APP, "20240101120000") == (
        "8BA75EFBE212059C7D7189BB53FBCAA8",
        "dG9rMDEyMzphcHA3NzRlOjIwMjQwMTAxMTIwMDAw",
    )


def test_timestamp_is_beijing() -> None:
    assert timestamp(datetime(2024, 1, 1, 4, 0, 0, tzinfo=UTC)) == "20240101120000"


def test_bind_request(vendor_server, caplog) -> None:
    vendor_server.answer(200, {"Flag": 1, "Msg": "8617115230000"})
    with caplog.at_level("DEBUG", logger="vendors"):
        result = make(vendor_server.base_url).bind(
            caller="18326000000",
            callee="18516000000",
            virtual_number="17118230000",
            direct=1,
            end_time=datetime(2016, 5, 21, 7, 59, 59, tzinfo=timezone(timedelta(hours=8))),
            area_code="021",
        )
    assert (result.vendor_binding_id, result.x_number) == ("17115230000", "17115230000")
    req = vendor_server.requests[0]
    parts = urlsplit(req.path)
    assert (req.method, parts.path) == ("POST", "/20171220/bind/callEvent/v1")
    auth = req.headers["Authorization"]
    token, app, ts = base64.b64decode(auth).decode().split(":")
    assert (token, app) == (TOKEN, APP)
    expected_sig = hashlib.md5(f"{TOKEN}:{APP}:{ts}".encode()).hexdigest().upper()
    assert parse_qs(parts.query) == {"sig": [expected_sig]}
    assert req.headers["Accept"] == "application/json"
    assert json.loads(req.body) == {
        "ACCOUNTSID": SID,
        "APPID": APP,
        "Caller": "18326000000",
        "Callee": "18516000000",
        "VirtualNum": "17118230000",
        "Direct": "1",
        "EndMinute": "2016-05-20T23:59:59Z",
        "Code": "021",
    }
    # The Authorization header contains the token: never in a log line.
    assert auth not in caplog.text and TOKEN not in caplog.text and expected_sig not in caplog.text


def test_bind_failure_flag(faults, fast_retry) -> None:
    session, adapter = faults([(200, {"Flag": 1002, "Msg": "号码资源不足"})])
    with pytest.raises(VendorError) as info:
        make(retry=fast_retry, session=session).bind(caller="1", callee="2")
    assert (info.value.code, info.value.message) == ("1002", "号码资源不足")
    assert len(adapter.sent) == 1
    body = json.loads(adapter.sent[0].body)
    assert "EndMinute" not in body and "VirtualNum" not in body and body["Direct"] == "0"


def test_bind_validates_direct() -> None:
    with pytest.raises(ValueError, match="direct"):
        make().bind(caller="1", callee="2", direct=3)


def test_fetch_recording(vendor_server) -> None:
    vendor_server.answer(200, {"Flag": 1, "Msg": "https://rec.example/65445.wav"})
    info = make(vendor_server.base_url).fetch_recording(
        call_identifier="65445298527236037121523767083120"
    )
    assert info.url == "https://rec.example/65445.wav"
    req = vendor_server.requests[0]
    assert urlsplit(req.path).path == "/20171220/bind/callEvent/voice/v1"
    assert json.loads(req.body) == {
        "ACCOUNTSID": SID,
        "APPID": APP,
        "CallIdentifier": "65445298527236037121523767083120",
    }


CDR = {
    "CallIdentifier": "65445298527236037121523767083120",
    "Caller": "18326000000",
    "Callee": "18516000000",
    "VirtualNum": "8617115230000",
    "StartTime": "2024-01-01T04:00:00Z",
    "EndTime": "2024-01-01T04:02:00Z",
    "Duration": 95,
    "Result": "answered",
}


def test_cdr_callback() -> None:
    (record,) = make().parse_callback(
        "cdr", body=json.dumps(CDR).encode(), content_type="application/json"
    )
    assert record.call_id == "65445298527236037121523767083120"
    assert record.x_number == "17115230000" and record.outcome is CallOutcome.ANSWERED
    assert record.begin_at == datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
    assert record.release_at == datetime(2024, 1, 1, 4, 2, tzinfo=UTC)
    assert record.duration == 95


def test_cdr_unknown_result_is_other() -> None:
    (record,) = make().parse_callback(
        "cdr", body=json.dumps({**CDR, "Result": "weird"}).encode(), content_type=""
    )
    assert record.outcome is CallOutcome.OTHER and record.raw_code == "weird"


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({**CDR, "CallIdentifier": ""}).encode(),
        json.dumps({k: v for k, v in CDR.items() if k != "Result"}).encode(),
        json.dumps({**CDR, "StartTime": "2024-01-01 04:00:00"}).encode(),
        json.dumps({**CDR, "Duration": "long"}).encode(),
        b"not json",
    ],
)
def test_cdr_malformed(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        make().parse_callback("cdr", body=body, content_type="application/json")


def test_callback_auth_checks_appid() -> None:
    make().authenticate_callback("cdr", headers={}, body=json.dumps(CDR).encode(), url="u")
    with pytest.raises(CallbackAuthError, match="APPID"):
        make().authenticate_callback(
            "cdr", headers={}, body=json.dumps({**CDR, "APPID": "x"}).encode(), url="u"
        )
