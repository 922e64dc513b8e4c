"""/api/v1/sub-accounts/: list with filters, create → 202, detail, sync; secrets never
in a response; the schema documents it with examples."""

import json

import pytest

from accounts.models import SubAccount
from sandbox.models import SandboxSubAccount
from sandbox.services import sub_account_create as sandbox_sub_account_create
from tests.factories import SubAccountFactory, VendorAccountFactory

URL = "/api/v1/sub-accounts/"


def _no_secrets(body: str, *subs: SubAccount) -> None:
    assert "sub_token" not in body and "voip_password" not in body
    for sub in subs:
        for secret in (sub.sub_token, sub.voip_password):
            assert not secret or secret not in body


def test_create_answers_202_and_the_worker_activates_it(ccp_account, operator_api):
    response = operator_api.post(
        URL, {"vendor_account": ccp_account.pk, "friendly_name": "shop-1"}, format="json"
    )
    assert response.status_code == 202
    body = response.json()
    # Tasks run in-process here: the answer is already in, and says so.
    assert (body["state"], body["friendly_name"], body["token_set"]) == ("active", "shop-1", True)
    at_vendor = SandboxSubAccount.objects.get()
    assert body["sub_account_sid"] == at_vendor.sub_account_sid
    sub = SubAccount.objects.get()
    _no_secrets(response.content.decode(), sub)
    detail = operator_api.get(f"{URL}{sub.pk}/")
    assert detail.json() == body
    _no_secrets(detail.content.decode(), sub)


def test_create_failing_at_the_vendor_shows_its_code_and_text(ccp_account, operator_api):
    ccp_account.secret = "wrong-token"
    ccp_account.save()
    body = operator_api.post(
        URL, {"vendor_account": ccp_account.pk, "friendly_name": "shop-2"}, format="json"
    ).json()
    assert body["state"] == "failed"
    assert body["failure"]["code"] == "111109" and body["failure"]["text"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"friendly_name": "x"}, "vendor_account"),
        ({"vendor_account": "99999999999999999999", "friendly_name": "x"}, "vendor_account"),
        ({"vendor_account": "²", "friendly_name": "x"}, "vendor_account"),
        ({"vendor_account": "ACCOUNT", "friendly_name": ""}, "friendly_name"),
        ({"vendor_account": "ACCOUNT", "friendly_name": "a\x00b"}, "friendly_name"),
        ({"vendor_account": "ACCOUNT", "friendly_name": "x" * 101}, "friendly_name"),
        ({"vendor_account": "IGW", "friendly_name": "x"}, "vendor_account"),
    ],
)
def test_bad_create_input_is_a_400_naming_the_field(operator_api, data, field):
    ccp, igw = VendorAccountFactory(vendor="ccp"), VendorAccountFactory(vendor="igw")
    ids = {"ACCOUNT": ccp.pk, "IGW": igw.pk}
    data = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    response = operator_api.post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert not SubAccount.objects.exists()


@pytest.mark.django_db
def test_list_filters_and_masks_nothing_secret(operator_api):
    account = VendorAccountFactory(vendor="ccp")
    shop = SubAccountFactory(vendor_account=account, friendly_name="shop-a")
    SubAccountFactory(vendor_account=account, friendly_name="other", state="gone")
    SubAccountFactory(friendly_name="shop-b")  # another account's
    response = operator_api.get(URL, {"vendor_account": account.pk, "state": "active", "q": "shop"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [shop.pk]
    assert operator_api.get(URL, {"sid": shop.sub_account_sid}).json()["count"] == 1
    _no_secrets(operator_api.get(URL).content.decode(), *SubAccount.objects.all())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"state": "nope"}, {"vendor_account": "1e9999"}, {"q": "a\x00"}, {"sid": "x" * 65}]
)
def test_unusable_filters_are_a_400(operator_api, params):
    assert operator_api.get(URL, params).status_code == 400


def test_sync_on_the_collection_adds_those_made_elsewhere(ccp_account, ccp_sandbox, operator_api):
    made = sandbox_sub_account_create(account=ccp_sandbox, friendly_name="elsewhere")
    response = operator_api.post(f"{URL}sync/", {"vendor_account": ccp_account.pk}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["vendor_account"] == ccp_account.pk and body["last_synced_at"]
    assert body["last_sync_error"] == ""
    sub = SubAccount.objects.get(sub_account_sid=made.sub_account_sid)
    assert (sub.state, sub.friendly_name) == ("active", "elsewhere")
    account = operator_api.get(f"/api/v1/vendor-accounts/{ccp_account.pk}/").json()
    assert account["sub_accounts_synced_at"] == body["last_synced_at"]


@pytest.mark.django_db
def test_sync_refusals(operator_api, staff_api):
    igw = VendorAccountFactory(vendor="igw")
    response = operator_api.post(f"{URL}sync/", {"vendor_account": igw.pk}, format="json")
    assert response.status_code == 400
    assert "no sub-accounts" in json.dumps(response.json())
    assert operator_api.post(f"{URL}sync/", {}, format="json").status_code == 400
    ccp = VendorAccountFactory(vendor="ccp")
    assert staff_api.post(f"{URL}sync/", {"vendor_account": ccp.pk}).status_code == 403
    assert staff_api.get(URL).status_code == 403


@pytest.mark.django_db
def test_schema_documents_sub_accounts_with_examples(operator_api):
    schema = operator_api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {f"{URL}", f"{URL}{{id}}/", f"{URL}sync/"} <= set(paths)
    create = paths[URL]["post"]
    assert "202" in create["responses"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert create["responses"]["202"]["content"]["application/json"]["examples"]
    props = schema["components"]["schemas"]["SubAccount"]["properties"]
    assert "sub_token" not in props and "voip_password" not in props
