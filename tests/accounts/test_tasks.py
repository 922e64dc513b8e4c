"""Vendor status checks and sub-account creation against the sandbox over real HTTP."""

import time

import pytest
from django.urls import reverse

from accounts.models import SubAccount, VendorAccount
from sandbox.services import ensure_sandbox_account
from tests.core.test_browser_csp import wait_for
from tests.factories import VendorAccountFactory


def _sandbox_account(live_server, vendor: str, path: str, **fields) -> VendorAccount:
    account = VendorAccountFactory(
        vendor=vendor, base_url=f"{live_server.url}/sandbox/{path}", **fields
    )
    ensure_sandbox_account(vendor_account=account)
    return account


@pytest.mark.worker
def test_status_check_runs_on_a_real_worker(live_server, celery_worker_process, operator, client):
    account = _sandbox_account(live_server, "igw", "igw")
    client.force_login(operator)
    response = client.post(reverse("accounts:vendor_account_check_status", args=[account.pk]))
    assert response.status_code == 302
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        account.refresh_from_db()
        if account.status_checked_at:
            break
        time.sleep(0.2)
    assert account.status_checked_at, "the worker never checked the account"
    assert (account.status_state, account.status_error) == ("active", "")
    assert account.status_balance is not None


@pytest.mark.django_db(transaction=True)
def test_status_check_reports_a_vendor_refusal(live_server):
    account = _sandbox_account(live_server, "igw", "igw")
    account.secret = "wrong-key"
    account.save()
    from accounts.services import vendor_account_check_status

    vendor_account_check_status(account=account)
    assert "1101" in account.status_error or "401" in account.status_error


@pytest.mark.django_db
def test_status_check_says_when_a_vendor_has_no_status_api():
    from accounts.services import vendor_account_check_status

    account = vendor_account_check_status(account=VendorAccountFactory(vendor="huawei"))
    assert account.status_error == "huawei offers no account-status API."


@pytest.mark.django_db(transaction=True)
def test_ccp_status_and_sub_account_creation_through_the_page(live_server, operator, client):
    account = _sandbox_account(live_server, "ccp", "ccp/2013-12-26", account_id="a" * 32)
    from accounts.services import vendor_account_check_status

    assert vendor_account_check_status(account=account).status_state == "active"
    client.force_login(operator)
    response = client.post(
        reverse("accounts:sub_account_create", args=[account.pk]), {"friendly_name": "shop-1"}
    )
    assert response.status_code == 302
    sub = SubAccount.objects.get()
    assert sub.friendly_name == "shop-1" and sub.sub_token and sub.voip_password
    page = client.get(reverse("accounts:vendor_account_detail", args=[account.pk])).content.decode()
    assert sub.sub_account_sid in page and sub.sub_token not in page


@pytest.mark.django_db(transaction=True)
def test_ccp_sub_account_in_the_guides_answer_form(live_server):
    """statusCode "0" and SubAccount.accountSid (guide §2.5.1): recorded, with its type."""
    from accounts.services import sub_account_create, vendor_account_check_status
    from sandbox.models import SandboxAccount
    from sandbox.services import account_set_chaos

    account = _sandbox_account(live_server, "ccp", "ccp/2013-12-26", account_id="b" * 32)
    account_set_chaos(
        account=SandboxAccount.objects.get(vendor="ccp", account_id=account.account_id),
        ccp_success_code="0",
        ccp_sub_account_sid_key="accountSid",
    )
    assert vendor_account_check_status(account=account).status_error == ""
    sub = sub_account_create(vendor_account=account, friendly_name="shop-2")
    sub.refresh_from_db()
    assert len(sub.sub_account_sid) == 32 and sub.sub_token and sub.type == "1"


@pytest.mark.django_db(transaction=True)
def test_status_check_message_tells_the_answer_when_it_is_in(live_server, operator, client):
    # Tasks run in-process here (as in the quick start): the answer is in by the redirect.
    account = _sandbox_account(live_server, "igw", "igw")
    client.force_login(operator)
    response = client.post(
        reverse("accounts:vendor_account_check_status", args=[account.pk]), follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "The vendor says the account is active."
    ]


@pytest.mark.worker
def test_sub_account_created_through_a_real_worker(
    ccp_account, ccp_sandbox, celery_worker_process, operator_api
):
    """POST → 202 pending at once; the worker process asks the sandbox over HTTP."""
    from sandbox.models import SandboxSubAccount

    response = operator_api.post(
        "/api/v1/sub-accounts/",
        {"vendor_account": ccp_account.pk, "friendly_name": "via-worker"},
        format="json",
    )
    assert response.status_code == 202
    assert response.json()["state"] == "pending"  # the worker has not answered yet
    sub = SubAccount.objects.get(pk=response.json()["id"])
    assert wait_for(lambda: SubAccount.objects.get(pk=sub.pk).state != "pending", 30), "no answer"
    sub.refresh_from_db()
    at_vendor = SandboxSubAccount.objects.get(account=ccp_sandbox)
    assert (sub.state, sub.sub_account_sid) == ("active", at_vendor.sub_account_sid)
    assert sub.sub_token == at_vendor.sub_token and sub.attempts == 1
    # Then a sync through the worker: the row is still the vendor's only one.
    sync = operator_api.post(
        "/api/v1/sub-accounts/sync/", {"vendor_account": ccp_account.pk}, format="json"
    )
    assert sync.status_code == 202
    assert wait_for(lambda: VendorAccount.objects.get(pk=ccp_account.pk).sub_accounts_synced_at, 30)
    assert SubAccount.objects.filter(vendor_account=ccp_account).count() == 1
