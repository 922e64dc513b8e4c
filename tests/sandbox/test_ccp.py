"""ccp over real HTTP: the vendors/ccp client against the sandbox (JSON and XML,
main and sub-account auth), and each documented rejection."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from sandbox.models import SandboxCall, SandboxMessage, SandboxRequest
from sandbox.services import account_set_chaos
from vendors import VendorError, ccp, errors


@pytest.fixture(params=["json", "xml"])
def ccp_vendor(request, make_vendor):
    return make_vendor("ccp", extra={"format": request.param})


def test_account_info(ccp_vendor):
    status = ccp_vendor.client.account_info()
    assert status.state == "active"
    assert status.balance == ccp_vendor.sandbox.balance


def test_sub_accounts_sms_and_callback_round_trip(ccp_vendor):
    client = ccp_vendor.client
    sub = client.create_sub_account("shop-1")
    assert len(sub.sub_account_sid) == 32 and sub.sub_token and sub.voip_password
    assert sub.friendly_name == "shop-1"
    client.create_sub_account("shop-2")

    listed = client.query_sub_accounts(start=0, count=10)
    assert [s.friendly_name for s in listed] == ["shop-1", "shop-2"]
    assert (
        client.query_sub_accounts(start=1, count=1)[0].sub_account_sid == listed[1].sub_account_sid
    )

    sms = client.send_sms(["13800000001", "13800000002"], "hello 你好")
    template = client.send_template_sms(["13800000003"], "1", ["1234", "5"])
    assert sms.message_id != template.message_id
    stored = SandboxMessage.objects.get(message_sid=template.message_id)
    assert stored.datas == ["1234", "5"] and stored.template_id == "1"
    assert SandboxMessage.objects.get(message_sid=sms.message_id).body == "hello 你好"

    result = client.two_way_call(
        sub_account_sid=sub.sub_account_sid,
        sub_token=sub.sub_token,
        from_number="13800000001",
        to_number="13900000002",
        user_data="order-7",
    )
    call = SandboxCall.objects.get(call_id=result.call_sid)
    assert call.kind == "callback" and call.status == "requested"
    assert (call.caller, call.callee, call.user_data) == ("13800000001", "13900000002", "order-7")


def test_query_sub_account_by_name(ccp_vendor):
    from vendors import NotFound

    client = ccp_vendor.client
    made = client.create_sub_account("shop-9")
    found = client.query_sub_account_by_name("shop-9")
    assert (found.sub_account_sid, found.sub_token) == (made.sub_account_sid, made.sub_token)
    with pytest.raises(NotFound) as caught:
        client.query_sub_account_by_name("shop-unknown")
    assert caught.value.code == "111130"


@pytest.mark.parametrize(
    ("success", "sid_key"), [("0", "accountSid"), ("0", "subAccountSid"), ("000000", "accountSid")]
)
def test_the_guides_answer_forms_round_trip(ccp_vendor, success, sid_key):
    """The sandbox answers as the account is set; the client takes both success forms."""
    account_set_chaos(
        account=ccp_vendor.sandbox, ccp_success_code=success, ccp_sub_account_sid_key=sid_key
    )
    assert _get(ccp_vendor).json()["statusCode"] == success
    client = ccp_vendor.client
    assert client.account_info().state == "active"
    sub = client.create_sub_account("shop-1")
    assert len(sub.sub_account_sid) == 32 and sub.type == "1"
    assert sid_key in sub.raw and "subToken" not in sub.raw
    assert client.send_sms(["13800000001"], "hi").message_id
    assert client.query_sub_accounts()[0].sub_account_sid  # the list keeps subAccountSid


def test_the_chaos_form_offers_ccp_answer_forms_only_for_ccp(make_vendor):
    from sandbox.forms import ChaosForm

    assert "ccp_success_code" in ChaosForm(instance=make_vendor("ccp").sandbox).fields
    assert "ccp_success_code" not in ChaosForm(instance=make_vendor("igw").sandbox).fields


def test_sub_account_call_signed_with_main_token_is_refused(make_vendor):
    vendor = make_vendor("ccp")
    sub = vendor.client.create_sub_account("s")
    with pytest.raises(VendorError) as exc:
        vendor.client.two_way_call(
            sub_account_sid=sub.sub_account_sid,
            sub_token=vendor.account.secret,  # the main token is not the sub-account's
            from_number="13800000001",
            to_number="13900000002",
        )
    assert exc.value.code == "111109"


def test_callback_optional_fields_are_checked_by_the_sandbox(make_vendor):
    """A body the client would not build (hand-made here) is refused with 111200
    naming the field."""
    vendor = make_vendor("ccp")
    sub = vendor.client.create_sub_account("s")
    stamp = ccp.beijing_timestamp()
    sig, auth = ccp.sign(sub.sub_account_sid, sub.sub_token, stamp)
    response = requests.post(
        f"{vendor.account.base_url}/SubAccounts/{sub.sub_account_sid}/Calls/Callback",
        params={"sig": sig},
        headers={
            "Authorization": auth,
            "Accept": "application/json",
            "Content-Type": "application/json;charset=utf-8",
        },
        data=json.dumps({"from": "13800000001", "to": "13900000002", "needRecord": "yes"}),
        timeout=10,
    )
    body = response.json()
    assert body["statusCode"] == "111200" and "needRecord" in body["statusMsg"]


def test_unknown_account_and_sub_account(make_vendor):
    vendor = make_vendor("ccp")
    vendor.sandbox.delete()
    with pytest.raises(VendorError) as exc:
        vendor.client.account_info()
    assert exc.value.code == "111113"

    other = make_vendor("ccp")
    with pytest.raises(VendorError) as exc:
        other.client.two_way_call(
            sub_account_sid="f" * 32, sub_token="t", from_number="13800000001", to_number="139000"
        )
    assert exc.value.code == "111130"


def _get(vendor, *, stamp=None, sig=None, auth=None, path="AccountInfo", accept="application/json"):
    sid = vendor.account.account_id
    stamp = stamp or ccp.beijing_timestamp()
    good_sig, good_auth = ccp.sign(sid, vendor.account.secret, stamp)
    params = {} if sig == "" else {"sig": good_sig if sig is None else sig}
    headers = {"Accept": accept}
    if auth != "":
        headers["Authorization"] = good_auth if auth is None else auth
    return requests.get(f"{vendor.base_url}/Accounts/{sid}/{path}", params=params, headers=headers)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"auth": ""}, "111100"),
        ({"auth": "***not base64***"}, "111101"),
        ({"auth": "bm9jb2xvbg=="}, "111102"),  # "nocolon"
        ({"sig": ""}, "111108"),
        ({"sig": "0" * 32}, "111109"),
    ],
)
def test_header_and_sig_rejections(make_vendor, kwargs, code):
    vendor = make_vendor("ccp")
    response = _get(vendor, **kwargs)
    assert response.status_code == 200
    assert response.json()["statusCode"] == code
    row = SandboxRequest.objects.latest("id")
    assert row.vendor_code == code and row.verdict != "ok"


def test_lower_case_sig_is_wrong(make_vendor):
    vendor = make_vendor("ccp")
    stamp = ccp.beijing_timestamp()
    sig, _ = ccp.sign(vendor.account.account_id, vendor.account.secret, stamp)
    assert _get(vendor, stamp=stamp, sig=sig.lower()).json()["statusCode"] == "111109"


def test_stale_timestamp_and_bad_format(make_vendor):
    vendor = make_vendor("ccp")
    old = ccp.beijing_timestamp(timezone.now() - timedelta(hours=24, minutes=1))
    answer = _get(vendor, stamp=old).json()
    assert answer["statusCode"] == "111105"
    assert SandboxRequest.objects.latest("id").verdict == "stale_timestamp"
    recent = ccp.beijing_timestamp(timezone.now() - timedelta(hours=23))
    assert _get(vendor, stamp=recent).json()["statusCode"] == "000000"
    assert _get(vendor, stamp="2024-01-01").json()["statusCode"] == "111104"


def test_authorization_for_another_account(make_vendor):
    vendor = make_vendor("ccp")
    import base64

    auth = base64.b64encode(f"someoneelse:{ccp.beijing_timestamp()}".encode()).decode()
    assert _get(vendor, auth=auth).json()["statusCode"] == "111112"


def test_xml_error_answer(make_vendor):
    vendor = make_vendor("ccp")
    response = _get(vendor, sig="0" * 32, accept="application/xml")
    assert response.headers["Content-Type"].startswith("application/xml")
    assert b"<statusCode>111109</statusCode>" in response.content


def test_missing_params(make_vendor):
    vendor = make_vendor("ccp")
    with pytest.raises(VendorError) as exc:
        vendor.client.send_sms([], "body")
    assert exc.value.code == "160031"
    vendor.client.app_id = ""
    with pytest.raises(VendorError) as exc:
        vendor.client.create_sub_account("x")
    assert exc.value.code == "111200"


@pytest.mark.parametrize("state", [0, -1])
def test_a_disabled_or_deleted_application_sends_no_sms(make_vendor, state):
    vendor = make_vendor("ccp")
    account_set_chaos(account=vendor.sandbox, ccp_app_state=state)
    with pytest.raises(errors.PermissionDenied) as exc:
        vendor.client.send_sms(["13800000001"], "hi")
    assert exc.value.code == "112312"
    assert "disabled or deleted" in exc.value.message_en
    assert not SandboxMessage.objects.exists()


@pytest.mark.parametrize("state", [1, 3, 4])
def test_an_application_not_online_sends_only_to_registered_numbers(make_vendor, state):
    vendor = make_vendor("ccp")
    account_set_chaos(
        account=vendor.sandbox, ccp_app_state=state, ccp_registered_numbers=["+8613800000001"]
    )
    assert vendor.client.send_sms(["13800000001"], "hi").message_id
    with pytest.raises(errors.PermissionDenied) as exc:
        vendor.client.send_sms(["13800000001", "13800000002"], "hi")
    assert exc.value.code == "112305"
    assert "registered numbers" in exc.value.message_en
    with pytest.raises(errors.PermissionDenied) as exc:
        vendor.client.send_template_sms(["13800000002"], "1", ["x"])
    assert exc.value.code == "112310"
    assert SandboxMessage.objects.count() == 1


def test_secrets_are_not_journaled(make_vendor):
    vendor = make_vendor("ccp")
    vendor.client.account_info()
    row = SandboxRequest.objects.latest("id")
    assert row.verdict == "ok"
    assert "[redacted" in row.headers["Authorization"]
    assert row.query == "sig=%5Bredacted%5D"


def test_suspended_account(make_vendor):
    vendor = make_vendor("ccp")
    vendor.sandbox.state = 2
    vendor.sandbox.save()
    with pytest.raises(VendorError) as exc:
        vendor.client.account_info()
    assert exc.value.code == "111114"


def test_platform_refusals_classify(make_vendor):
    from vendors import AuthError, NotFound

    vendor = make_vendor("ccp")
    sub = vendor.client.create_sub_account("s")
    with pytest.raises(AuthError):
        vendor.client.two_way_call(
            sub_account_sid=sub.sub_account_sid,
            sub_token="wrong",
            from_number="13800000001",
            to_number="13900000002",
        )
    vendor.sandbox.delete()
    with pytest.raises(NotFound):
        vendor.client.account_status()
