"""The admin enforces the same rules as the pages and the API."""

import pytest
from django.urls import reverse

from accounts.models import PrivacyNumber, SubAccount, VendorAccount
from tests.factories import PrivacyNumberFactory, SubAccountFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def account_form(account=None, **overrides):
    data = {
        "vendor": "igw",
        "name": "igw main",
        "base_url": "https://vendor.example.com/api",
        "account_id": "dev000001",
        "secret": "",
        "app_id": "app1",
        "extra": "{}",
        "enabled": "on",
    }
    if account is not None:
        data.update(
            vendor=account.vendor,
            name=account.name,
            base_url=account.base_url,
            account_id=account.account_id,
            app_id=account.app_id,
        )
    data.update(overrides)
    return data


def errors(response) -> dict:
    form = response.context["adminform"].form
    return {k: list(v) for k, v in form.errors.items()}


# ----------------------------------------------------------------- vendor accounts


def test_add_account_through_the_service(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_vendoraccount_add"), account_form(secret="s3cret-token")
    )
    assert response.status_code == 302, errors(response)
    account = VendorAccount.objects.get(name="igw main")
    assert account.secret == "s3cret-token"
    assert account.webhook_token


@pytest.mark.parametrize("base_url", ["not-a-number<b>", "javascript:alert(1)", "https://"])
def test_bad_base_url_is_rejected(admin_client, base_url):
    account = VendorAccountFactory()
    url = reverse("admin:accounts_vendoraccount_change", args=[account.pk])
    response = admin_client.post(url, account_form(account, base_url=base_url))
    assert response.status_code == 200
    assert "base_url" in errors(response)
    account.refresh_from_db()
    assert account.base_url == "https://vendor.example.com"


def test_base_url_without_scheme_means_https(admin_client):
    account = VendorAccountFactory()
    url = reverse("admin:accounts_vendoraccount_change", args=[account.pk])
    response = admin_client.post(url, account_form(account, base_url="vendor.example/api"))
    assert response.status_code == 302, errors(response)
    account.refresh_from_db()
    assert account.base_url == "https://vendor.example/api"


def test_extra_settings_are_checked_for_the_vendor(admin_client):
    account = VendorAccountFactory(vendor="igw")
    url = reverse("admin:accounts_vendoraccount_change", args=[account.pk])
    response = admin_client.post(url, account_form(account, extra='{"push_signature": "off"}'))
    assert response.status_code == 200
    assert "Unknown setting 'push_signature' for igw" in " ".join(errors(response)["extra"])


def test_vendor_is_read_only_after_creation(admin_client):
    account = VendorAccountFactory(vendor="igw")
    url = reverse("admin:accounts_vendoraccount_change", args=[account.pk])
    page = admin_client.get(url)
    assert "vendor" not in page.context["adminform"].form.fields
    response = admin_client.post(url, account_form(account, vendor="huawei", name="renamed"))
    assert response.status_code == 302, errors(response)
    account.refresh_from_db()
    assert (account.vendor, account.name) == ("igw", "renamed")


def test_empty_secret_keeps_the_stored_one(admin_client):
    account = VendorAccountFactory()
    stored = account.secret
    url = reverse("admin:accounts_vendoraccount_change", args=[account.pk])
    assert admin_client.post(url, account_form(account)).status_code == 302
    account.refresh_from_db()
    assert account.secret == stored


# ------------------------------------------------------------------- number pool


def number_form(account, **overrides):
    data = {
        "number": "138 0013 8000",
        "vendor_account": account.pk,
        "area_code": " 010 ",
        "status": "available",
        "note": "",
    }
    data.update(overrides)
    return data


def test_added_number_is_normalized(admin_client):
    account = VendorAccountFactory()
    response = admin_client.post(reverse("admin:accounts_privacynumber_add"), number_form(account))
    assert response.status_code == 302, errors(response)
    row = PrivacyNumber.objects.get()
    assert row.number == "+8613800138000"
    assert row.area_code == "010"  # stripped by the service


@pytest.mark.parametrize("number", ["not-a-number<b>", "12345"])
def test_bad_number_is_rejected(admin_client, number):
    account = VendorAccountFactory()
    response = admin_client.post(
        reverse("admin:accounts_privacynumber_add"), number_form(account, number=number)
    )
    assert response.status_code == 200
    assert "number" in errors(response)
    assert not PrivacyNumber.objects.exists()


def test_same_number_in_another_form_is_a_duplicate(admin_client):
    account = VendorAccountFactory()
    PrivacyNumberFactory(vendor_account=account, number="+8613800138000")
    response = admin_client.post(
        reverse("admin:accounts_privacynumber_add"),
        number_form(account, number="0086 138 0013 8000"),
    )
    assert response.status_code == 200
    assert "number" in errors(response)


def test_number_and_its_account_are_read_only_after_creation(admin_client):
    row = PrivacyNumberFactory(number="+8613800138000")
    other = VendorAccountFactory()
    url = reverse("admin:accounts_privacynumber_change", args=[row.pk])
    response = admin_client.post(
        url, number_form(other, number="not-a-number<b>", note="moved?", status="suspended")
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.number == "+8613800138000"
    assert row.vendor_account_id != other.pk
    assert (row.note, row.status) == ("moved?", "suspended")


# ------------------------------------------------------------------- sub-accounts


def test_sub_account_identity_is_read_only_and_not_added_here(admin_client):
    account = VendorAccountFactory(vendor="ccp")
    other = VendorAccountFactory(vendor="ccp")
    sub = SubAccount.objects.create(
        vendor_account=account, sub_account_sid="sid1", sub_token="tok", friendly_name="one"
    )
    assert admin_client.get(reverse("admin:accounts_subaccount_add")).status_code == 403
    url = reverse("admin:accounts_subaccount_change", args=[sub.pk])
    response = admin_client.post(
        url,
        {
            "vendor_account": other.pk,
            "sub_account_sid": "sid2",
            "sub_token": "",
            "voip_account": "",
            "voip_password": "",
            "friendly_name": "renamed",
            "status": "",
        },
    )
    assert response.status_code == 302
    sub.refresh_from_db()
    assert (sub.vendor_account_id, sub.sub_account_sid) == (account.pk, "sid1")
    assert (sub.friendly_name, sub.sub_token) == ("renamed", "tok")


def test_sub_account_lifecycle_is_read_only_and_rows_are_not_deleted(admin_client):
    sub = SubAccountFactory(state="failed", sub_account_sid="", failure_code="111109")
    page = admin_client.get(reverse("admin:accounts_subaccount_change", args=[sub.pk]))
    html = page.content.decode()
    assert 'name="state"' not in html and 'name="failure_code"' not in html
    assert sub.sub_token not in html and "111109" in html
    assert (
        admin_client.get(reverse("admin:accounts_subaccount_delete", args=[sub.pk])).status_code
        == 403
    )


@pytest.mark.django_db(transaction=True)
def test_admin_action_syncs_sub_accounts(admin_client, ccp_account, ccp_sandbox):
    from sandbox.services import sub_account_create as sandbox_sub_account_create

    made = sandbox_sub_account_create(account=ccp_sandbox, friendly_name="from-admin")
    igw = VendorAccountFactory(vendor="igw")
    response = admin_client.post(
        reverse("admin:accounts_vendoraccount_changelist"),
        {"action": "sync_sub_accounts", "_selected_action": [ccp_account.pk, igw.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "sub-account sync requested" in text and "igw accounts have no sub-accounts" in text
    assert SubAccount.objects.get(sub_account_sid=made.sub_account_sid).state == "active"
