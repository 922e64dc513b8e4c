"""The account page's sub-account section: create (pending → polled state), sync with
confirmation, last sync time, errors in plain words; secrets never on the page."""

import pytest
from django.urls import reverse

from accounts.models import SubAccount
from sandbox.services import sub_account_create as sandbox_sub_account_create
from tests.factories import SubAccountFactory, VendorAccountFactory


def _page(client, account) -> str:
    return client.get(reverse("accounts:vendor_account_detail", args=[account.pk])).content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_create_from_the_page_says_what_is_true_and_shows_no_secret(ccp_account, operator_client):
    response = operator_client.post(
        reverse("accounts:sub_account_create", args=[ccp_account.pk]),
        {"friendly_name": "shop-1"},
        follow=True,
    )
    # Tasks run in-process here, as in the quick start: the vendor has answered.
    assert _messages(response) == ["Sub-account shop-1 created at the vendor."]
    sub = SubAccount.objects.get()
    assert sub.created_by.username == "operator"
    page = response.content.decode()
    assert sub.sub_account_sid in page and sub.voip_account in page
    assert sub.sub_token not in page and sub.voip_password not in page
    assert "data-poll-url" not in page  # nothing pending


def test_a_vendor_refusal_reads_in_plain_words(ccp_account, operator_client):
    ccp_account.secret = "wrong-token"
    ccp_account.save()
    response = operator_client.post(
        reverse("accounts:sub_account_create", args=[ccp_account.pk]),
        {"friendly_name": "shop-2"},
        follow=True,
    )
    assert _messages(response) == ["The vendor did not create sub-account shop-2 (see below)."]
    page = response.content.decode()
    assert "The vendor refused (111109)" in page and "sig does not match" in page


@pytest.mark.django_db
def test_a_pending_row_polls_its_state_until_it_settles(operator_client):
    sub = SubAccountFactory(vendor_account__vendor="ccp", sub_account_sid="", state="pending")
    state_url = reverse("accounts:sub_account_state", args=[sub.pk])
    page = _page(operator_client, sub.vendor_account)
    assert f'data-poll-url="{state_url}"' in page and "data-reload-when-settled" in page
    assert 'data-poll-url="' in operator_client.get(state_url).content.decode()
    SubAccount.objects.filter(pk=sub.pk).update(state="active", sub_account_sid="s" * 32)
    fragment = operator_client.get(state_url).content.decode()
    assert "data-poll-url" not in fragment and "Active" in fragment


@pytest.mark.django_db
def test_form_errors_are_messages_and_write_nothing(operator_client):
    account = VendorAccountFactory(vendor="ccp")
    url = reverse("accounts:sub_account_create", args=[account.pk])
    response = operator_client.post(url, {"friendly_name": "x" * 101}, follow=True)
    assert "at most 100 characters" in " ".join(_messages(response))
    response = operator_client.post(url, {"friendly_name": "   "}, follow=True)
    assert _messages(response) == ["This field is required."]
    assert not SubAccount.objects.exists()


def test_sync_asks_first_then_syncs_and_shows_when(ccp_account, ccp_sandbox, operator_client):
    made = sandbox_sub_account_create(account=ccp_sandbox, friendly_name="made-elsewhere")
    url = reverse("accounts:sub_accounts_sync", args=[ccp_account.pk])
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and b"Sync now" in confirm.content
    assert not SubAccount.objects.exists()  # a GET changes nothing
    response = operator_client.post(url, follow=True)
    assert _messages(response) == ["Sub-accounts synced from the vendor."]
    page = response.content.decode()
    assert "made-elsewhere" in page and made.sub_account_sid in page
    assert "Last synced from the vendor" in page


def test_a_failed_sync_says_so_on_the_page(ccp_account, operator_client):
    ccp_account.secret = "wrong-token"
    ccp_account.save()
    url = reverse("accounts:sub_accounts_sync", args=[ccp_account.pk])
    response = operator_client.post(url, follow=True)
    assert _messages(response) == ["The vendor did not list its sub-accounts: see below."]
    assert "The last sync failed, and changed nothing" in response.content.decode()


@pytest.mark.django_db
def test_staff_may_neither_create_nor_sync(staff_client):
    account = VendorAccountFactory(vendor="ccp")
    create = reverse("accounts:sub_account_create", args=[account.pk])
    sync = reverse("accounts:sub_accounts_sync", args=[account.pk])
    assert staff_client.post(create, {"friendly_name": "x"}).status_code == 403
    assert staff_client.post(sync).status_code == 403
    assert not SubAccount.objects.exists()


@pytest.mark.django_db
def test_a_disabled_account_offers_neither_create_nor_sync(operator_client):
    account = VendorAccountFactory(vendor="ccp", enabled=False)
    page = _page(operator_client, account)
    assert "Create at the vendor" not in page and "Sync from the vendor" not in page
    assert "Enable the account to create or sync sub-accounts." in page
