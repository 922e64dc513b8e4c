"""huawei over real HTTP: callVerify, every header error of 表6, digest and
Created checks, body validation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox.models import SandboxCall
from vendors import AuthError, InvalidRequest, huawei

BODY = {
    "displayNbr": "+8675528000001",
    "calleeNbr": "+8613800000001",
    "languageType": 2,
    "preTone": "welcome.wav",
    "verifyCode": "123456",
}


def test_call_verify_round_trip(make_vendor):
    vendor = make_vendor("huawei")
    result = vendor.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="1234",
        pre_tone="welcome.wav",
        status_url="https://console.example.com/callbacks/t/status/",
        fee_url="https://console.example.com/callbacks/t/cdr/",
        return_idle_port=True,
        user_data="order-1",
    )
    assert result.session_id.startswith("1200_") and isinstance(result.idle_ports, int)
    call = SandboxCall.objects.get(call_id=result.session_id)
    assert call.kind == "voice_code" and call.callee == "13800000001"
    assert call.params["statusUrl"] == "https://console.example.com/callbacks/t/status/"
    assert call.params["verifyCode"] == "1234"


def _post(vendor, *, auth=huawei.AUTHORIZATION, x_aksk=None, body=None, created=None, ctype=None):
    headers = huawei.aksk_headers(vendor.account.account_id, vendor.account.secret, created=created)
    headers["Content-Type"] = ctype or "application/json;charset=UTF-8"
    if auth is None:
        del headers["Authorization"]
    else:
        headers["Authorization"] = auth
    if x_aksk is not None:
        if x_aksk == "":
            del headers["X-AKSK"]
        else:
            headers["X-AKSK"] = x_aksk
    data = json.dumps(BODY if body is None else body) if not isinstance(body, bytes) else body
    return requests.post(
        f"{vendor.base_url}/rest/httpsessions/callVerify/v1.0", data=data, headers=headers
    )


X = 'UsernameToken Username="{u}",PasswordDigest="abc",Nonce="N1",Created="2024-01-01T00:00:00Z"'


@pytest.mark.parametrize(
    ("auth", "x_aksk", "status", "code"),
    [
        (None, None, 400, "1023006"),
        ('AKSK profile="UsernameToken",type="Appkey"', None, 400, "1023007"),
        ('AKSK realm="SDP",type="Appkey"', None, 400, "1023008"),
        ('AKSK realm="SDP",profile="UsernameToken"', None, 400, "1023012"),
        ('AKSK realm="X",profile="UsernameToken",type="Appkey"', None, 400, "1023009"),
        ('AKSK realm="SDP",profile="Other",type="Appkey"', None, 400, "1023010"),
        ('AKSK realm="SDP",profile="UsernameToken",type="app_key"', None, 400, "1023011"),
        (huawei.AUTHORIZATION, "", 400, "1023033"),
        (huawei.AUTHORIZATION, 'Token Username="u"', 400, "1023038"),
        (
            huawei.AUTHORIZATION,
            'UsernameToken PasswordDigest="d",Nonce="n",Created="c"',
            400,
            "1023034",
        ),
        (huawei.AUTHORIZATION, 'UsernameToken Username="u",Nonce="n",Created="c"', 400, "1023037"),
        (
            huawei.AUTHORIZATION,
            'UsernameToken Username="u",PasswordDigest="d",Created="c"',
            400,
            "1023035",
        ),
        (
            huawei.AUTHORIZATION,
            'UsernameToken Username="u",PasswordDigest="d",Nonce="n"',
            400,
            "1023036",
        ),
        (huawei.AUTHORIZATION, X.format(u="nobody"), 403, "1010003"),
    ],
)
def test_header_errors(make_vendor, auth, x_aksk, status, code):
    vendor = make_vendor("huawei")
    response = _post(vendor, auth=auth, x_aksk=x_aksk)
    assert (response.status_code, response.json()["resultcode"]) == (status, code)
    assert response.json()["resultdesc"]


def test_x_aksk_with_spaces_after_commas_is_accepted(make_vendor):
    vendor = make_vendor("huawei")
    headers = huawei.aksk_headers(vendor.account.account_id, vendor.account.secret)
    spaced = headers["X-AKSK"].replace('",', '", ')
    response = _post(vendor, x_aksk=spaced)
    assert response.json()["resultcode"] == "0"


def test_invalid_digest_is_401_and_maps_to_auth_error(make_vendor):
    vendor = make_vendor("huawei")
    vendor.client._secret = "wrong-secret"
    with pytest.raises(AuthError) as exc:
        vendor.client.call_verify(
            display_number="+8675528000001",
            callee_number="+8613800000001",
            verify_code="1234",
            pre_tone="w.wav",
        )
    assert (exc.value.code, exc.value.http_status) == ("1010010", 401)


@pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(minutes=6)])
def test_created_skew_is_1010013(make_vendor, skew):
    vendor = make_vendor("huawei")
    created = (datetime.now(UTC) + skew).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = _post(vendor, created=created)
    assert (response.status_code, response.json()["resultcode"]) == (401, "1010013")
    ok = (datetime.now(UTC) - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _post(vendor, created=ok).json()["resultcode"] == "0"


@pytest.mark.parametrize(
    "change",
    [
        {"displayNbr": None},
        {"calleeNbr": "abc"},
        {"languageType": 1},
        {"preTone": ""},
        {"verifyCode": "12a"},
        {"verifyCode": "123456789"},
        {"times": 10},
        {"statusUrl": "not base64!"},
        {"feeUrl": base64.b64encode(b"ftp://x/y").decode()},
        {
            "statusUrl": base64.b64encode(
                b"https://console.example.com/callbacks/a_b/status/"
            ).decode()
        },
        # 97 URL characters are 132 once Base64-encoded: over 表4's String(1-128).
        {"feeUrl": base64.b64encode(b"https://c.example/" + b"a" * 79).decode()},
        {"returnIdlePort": True},
        {"userData": "{x}"},
    ],
)
def test_body_errors_are_1020001(make_vendor, change):
    vendor = make_vendor("huawei")
    body = {**BODY, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = _post(vendor, body=body)
    assert (response.status_code, response.json()["resultcode"]) == (500, "1020001")


def test_body_error_maps_to_invalid_request(make_vendor):
    vendor = make_vendor("huawei")
    with pytest.raises(InvalidRequest) as exc:
        vendor.client.call_verify(
            display_number="not-a-number",
            callee_number="+8613800000001",
            verify_code="1234",
            pre_tone="w.wav",
        )
    assert exc.value.code == "1020001"


def test_not_json(make_vendor):
    vendor = make_vendor("huawei")
    assert _post(vendor, body=b"{oops").json()["resultcode"] == "1020001"
    assert _post(vendor, ctype="text/plain").json()["resultcode"] == "1020001"


def test_push_urls_are_checked_before_sending(make_vendor):
    """表4: the client refuses a statusUrl/feeUrl the platform would, naming the
    field, and sends nothing."""
    vendor = make_vendor("huawei")
    before = SandboxCall.objects.count()
    good = "https://c.example/" + "a" * 78  # 96 characters: 128 once encoded
    for field, url, words in (
        ("status_url", "https://console.example.com/callbacks/a_b/status/", "letters, digits"),
        ("fee_url", good + "a", "Base64-encoded"),
        ("status_url", "ftp://x/y", r"an http\(s\) URL"),
    ):
        with pytest.raises(ValueError, match=words) as exc:
            vendor.client.call_verify(
                display_number="+8675528000001",
                callee_number="+8613800000001",
                verify_code="1234",
                pre_tone="w.wav",
                **{field: url},
            )
        assert ("statusUrl" if field == "status_url" else "feeUrl") in str(exc.value)
    assert SandboxCall.objects.count() == before
    result = vendor.client.call_verify(
        display_number="+8675528000001",
        callee_number="+8613800000001",
        verify_code="1234",
        pre_tone="w.wav",
        fee_url=good,
    )
    assert SandboxCall.objects.get(call_id=result.session_id).params["feeUrl"] == good
