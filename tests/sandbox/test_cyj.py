"""cyj over real HTTP: bind, recording fetch, Sig/Authorization rejections,
EndMinute bounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox import services
from sandbox.models import SandboxBinding
from vendors import AuthError, VendorError, cyj

CALLER, CALLEE = "18326000000", "18516000000"


def test_bind_and_recording_round_trip(make_vendor):
    vendor = make_vendor("cyj", numbers=1)
    result = vendor.client.bind(
        caller=CALLER, callee=CALLEE, direct=1, end_time=datetime.now(UTC) + timedelta(minutes=20)
    )
    binding = SandboxBinding.objects.get(kind="cyj")
    assert result.x_number == binding.x_number == vendor.sandbox.numbers[0]
    assert result.raw["Msg"] == "86" + binding.x_number
    assert binding.params["Direct"] == "1"

    call = services.play_call(binding=binding, outcome="answered", duration=12, sync=True)
    info = vendor.client.fetch_recording(call_identifier=call.call_id)
    assert info.url.endswith(f"/sandbox/recordings/{call.public_id}.wav")
    audio = requests.get(info.url)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"

    with pytest.raises(VendorError) as exc:
        vendor.client.fetch_recording(call_identifier="0" * 32)
    assert exc.value.code == "103002"


def test_virtual_number_busy_for_the_parties(make_vendor):
    vendor = make_vendor("cyj", numbers=1)
    vendor.client.bind(caller=CALLER, callee=CALLEE)
    with pytest.raises(VendorError) as exc:
        vendor.client.bind(caller=CALLER, callee="18516000009")
    assert exc.value.code == "103001"


def test_invented_numbers_without_a_pool(make_vendor):
    vendor = make_vendor("cyj")
    first = vendor.client.bind(caller=CALLER, callee=CALLEE)
    assert first.x_number.startswith("171") and len(first.x_number) == 11


def _post(vendor, body, *, token=None, app_id=None, stamp=None, sig=None, auth=None):
    stamp = stamp or cyj.timestamp()
    good_sig, good_auth = cyj.sign(
        token or vendor.account.secret, app_id or vendor.account.app_id, stamp
    )
    params = {} if sig == "" else {"sig": sig or good_sig}
    headers = {"Content-Type": "application/json;charset=utf-8", "Accept": "application/json"}
    if auth != "":
        headers["Authorization"] = auth or good_auth
    return requests.post(
        f"{vendor.base_url}/20171220/bind/callEvent/v1",
        params=params,
        data=json.dumps(body),
        headers=headers,
    )


def _body(vendor, **extra):
    return {
        "ACCOUNTSID": vendor.account.account_id,
        "APPID": vendor.account.app_id,
        "Caller": CALLER,
        "Callee": CALLEE,
        **extra,
    }


@pytest.mark.parametrize(
    ("kwargs", "status", "flag"),
    [
        ({"auth": ""}, 401, "101001"),
        ({"auth": "bm90aGluZw=="}, 401, "101001"),
        ({"sig": ""}, 401, "101002"),
        ({"sig": "0" * 32}, 401, "101003"),
        ({"token": "wrong-token"}, 401, "101003"),
        ({"app_id": "other-app"}, 401, "101006"),
        ({"stamp": "20200101000000"}, 401, "101004"),
        ({"stamp": "2020-01-01"}, 401, "101004"),
    ],
)
def test_signature_rejections(make_vendor, kwargs, status, flag):
    vendor = make_vendor("cyj")
    response = _post(vendor, _body(vendor), **kwargs)
    assert (response.status_code, response.json()["Flag"]) == (status, flag)


def test_unknown_account(make_vendor):
    vendor = make_vendor("cyj")
    response = _post(vendor, {**_body(vendor), "ACCOUNTSID": "nobody"})
    assert (response.status_code, response.json()["Flag"]) == (401, "101005")


def test_bad_token_maps_to_auth_error(make_vendor):
    vendor = make_vendor("cyj")
    vendor.client._secret = "wrong"
    with pytest.raises(AuthError) as exc:
        vendor.client.bind(caller=CALLER, callee=CALLEE)
    assert exc.value.code == "101003"


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        ({"Caller": ""}, "102001"),
        ({"Callee": "abc"}, "102001"),
        ({"Callee": CALLER}, "102001"),
        ({"Direct": "3"}, "102001"),
        ({"EndMinute": "61"}, "102002"),
        ({"EndMinute": "0"}, "102002"),
        ({"EndMinute": "tomorrow"}, "102001"),
    ],
)
def test_parameter_errors(make_vendor, extra, flag):
    vendor = make_vendor("cyj")
    response = _post(vendor, _body(vendor, **extra))
    assert (response.status_code, response.json()["Flag"]) == (200, flag)


def test_end_minute_forms(make_vendor):
    vendor = make_vendor("cyj")
    assert _post(vendor, _body(vendor, EndMinute="25")).json()["Flag"] == 1
    later = (datetime.now(UTC) + timedelta(minutes=61)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        _post(vendor, _body(vendor, EndMinute=later, Caller="18326000001")).json()["Flag"]
        == "102002"
    )
    with pytest.raises(VendorError) as exc:
        vendor.client.bind(
            caller="18326000002", callee=CALLEE, end_time=datetime.now(UTC) + timedelta(hours=2)
        )
    assert exc.value.code == "102002"
    default = SandboxBinding.objects.get(a_number=CALLER)
    assert timedelta(minutes=24) < default.expires_at - default.created_at < timedelta(minutes=26)
