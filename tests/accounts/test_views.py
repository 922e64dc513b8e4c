"""Browser pages for accounts and numbers, per role; and the secret never shows."""

import io

import pytest
from django.urls import reverse

from accounts.models import PrivacyNumber, VendorAccount
from tests.factories import (
    BindingFactory,
    PrivacyNumberFactory,
    SubAccountFactory,
    VendorAccountFactory,
)

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-token-that-must-never-render"


def test_anonymous_users_are_sent_to_login(client):
    for url in ["/", "/accounts/vendor-accounts/", "/accounts/numbers/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")


def test_login_page_and_login(client, operator):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "operator", "password": "pass-word-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_business_staff_cannot_see_or_change_accounts(staff_client):
    account = VendorAccountFactory()
    for url in [
        "/accounts/vendor-accounts/",
        f"/accounts/vendor-accounts/{account.pk}/",
        "/accounts/vendor-accounts/new/",
        f"/accounts/vendor-accounts/{account.pk}/edit/",
        "/accounts/numbers/new/",
    ]:
        assert staff_client.get(url).status_code == 403, url
    home = staff_client.get("/").content.decode()
    assert "Vendor accounts" not in home


def test_user_without_role_sees_a_hint(client, nobody):
    client.force_login(nobody)
    assert b"no role yet" in client.get("/").content


def test_operator_creates_edits_and_disables_an_account(operator_client):
    response = operator_client.post(
        "/accounts/vendor-accounts/new/",
        {
            "vendor": "igw",
            "name": "IGW prod",
            "base_url": "https://igw.example.com",
            "account_id": "10000001",
            "secret": SECRET,
            "app_id": "app-1",
            "extra": '{"max_bindings_per_x": 5000}',
            "enabled": "on",
        },
    )
    account = VendorAccount.objects.get()
    assert (
        response.status_code == 302 and response.url == f"/accounts/vendor-accounts/{account.pk}/"
    )
    assert account.secret == SECRET and account.extra == {"max_bindings_per_x": 5000}

    response = operator_client.post(
        f"/accounts/vendor-accounts/{account.pk}/edit/",
        {
            "name": "IGW production",
            "base_url": "https://igw.example.com",
            "account_id": "10000001",
            "secret": "",
            "app_id": "app-1",
            "extra": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "IGW production" and account.secret == SECRET

    confirm = operator_client.get(f"/accounts/vendor-accounts/{account.pk}/toggle/")
    assert b"Disable IGW production?" in confirm.content
    account.refresh_from_db()
    assert account.enabled  # a GET only asks
    operator_client.post(f"/accounts/vendor-accounts/{account.pk}/toggle/")
    account.refresh_from_db()
    assert not account.enabled


def test_account_form_shows_field_errors_and_writes_nothing(operator_client):
    response = operator_client.post(
        "/accounts/vendor-accounts/new/",
        {
            "vendor": "acme",
            "name": "",
            "base_url": "nope",
            "account_id": "",
            "secret": "",
            "extra": "{not json",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert {"vendor", "name", "base_url", "account_id", "secret", "extra"} <= set(form.errors)
    assert not VendorAccount.objects.exists()


@pytest.mark.parametrize(
    "base_url", ["ftp://igw.example.com/api", "https://igw.example.com/api?debug=1"]
)
def test_account_form_refuses_a_base_url_clients_cannot_append_paths_to(operator_client, base_url):
    response = operator_client.post(
        "/accounts/vendor-accounts/new/",
        {
            "vendor": "igw",
            "name": "igw",
            "base_url": base_url,
            "account_id": "10000000",
            "secret": "key",
            "extra": "",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"base_url"}
    assert not VendorAccount.objects.exists()


def test_admin_refuses_a_base_url_with_a_query(client, administrator):
    account = VendorAccountFactory(secret=SECRET)
    client.force_login(administrator)
    response = client.post(
        f"/admin/accounts/vendoraccount/{account.pk}/change/",
        {
            "vendor": "igw",
            "name": account.name,
            "base_url": "http://127.0.0.1:8871/reflect?x=",
            "account_id": account.account_id,
            "secret": "",
            "app_id": "x",
            "extra": "{}",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.base_url == "https://vendor.example.com"


def test_secret_never_appears_in_any_page_or_api_response(operator_client, administrator, client):
    from sandbox.services import ensure_sandbox_account

    account = VendorAccountFactory(vendor="ccp", secret=SECRET)
    mirror = ensure_sandbox_account(vendor_account=account)  # it mirrors the credentials
    sub = SubAccountFactory(
        vendor_account=account, sub_token=SECRET + "-sub", voip_password=SECRET + "-voip"
    )
    pages = [
        "/",
        "/accounts/vendor-accounts/",
        f"/accounts/vendor-accounts/{account.pk}/",
        f"/accounts/vendor-accounts/{account.pk}/edit/",
        f"/accounts/vendor-accounts/{account.pk}/toggle/",
        f"/accounts/vendor-accounts/{account.pk}/regenerate-token/",
        "/api/v1/vendor-accounts/",
        f"/api/v1/vendor-accounts/{account.pk}/",
        "/api/schema/",
        "/sandbox/",
        "/sandbox/api/accounts/",
    ]
    for url in pages:
        response = operator_client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
    client.force_login(administrator)
    admin_pages = [
        "/admin/accounts/vendoraccount/",
        f"/admin/accounts/vendoraccount/{account.pk}/change/",
        "/admin/accounts/subaccount/",
        f"/admin/accounts/subaccount/{sub.pk}/change/",
        "/admin/sandbox/sandboxaccount/",
        f"/admin/sandbox/sandboxaccount/{mirror.pk}/change/",
    ]
    for url in admin_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url


def test_admin_edit_keeps_secret_when_left_empty(client, administrator):
    account = VendorAccountFactory(secret=SECRET)
    client.force_login(administrator)
    response = client.post(
        f"/admin/accounts/vendoraccount/{account.pk}/change/",
        {
            "vendor": "igw",
            "name": "renamed",
            "base_url": account.base_url,
            "account_id": account.account_id,
            "secret": "",
            "app_id": "x",
            "extra": "{}",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.name == "renamed" and account.secret == SECRET


def test_regenerate_token_asks_first(operator_client):
    account = VendorAccountFactory()
    old = account.webhook_token
    assert (
        b"stop working"
        in operator_client.get(f"/accounts/vendor-accounts/{account.pk}/regenerate-token/").content
    )
    operator_client.post(f"/accounts/vendor-accounts/{account.pk}/regenerate-token/")
    account.refresh_from_db()
    assert account.webhook_token != old


def test_number_pages(operator_client, staff_user, client):
    account = VendorAccountFactory()
    PrivacyNumberFactory(number="+8617012340021", vendor_account=account)
    page = operator_client.get(reverse("accounts:number_list"))
    assert b"17012340021" in page.content
    response = operator_client.post(
        reverse("accounts:number_create"),
        {"number": "17012340021", "vendor_account": account.pk, "status": "available"},
    )
    assert response.status_code == 200 and "number" in response.context["form"].errors


def test_number_import_page_lists_bad_rows(operator_client):
    account = VendorAccountFactory()
    upload = io.BytesIO(b"number\n17000000001\nbad\n")
    upload.name = "n.csv"
    response = operator_client.post(
        reverse("accounts:number_import"), {"vendor_account": account.pk, "file": upload}
    )
    assert response.status_code == 200
    assert [p.line for p in response.context["problems"]] == [3]
    assert not PrivacyNumber.objects.exists()


def test_number_import_page_refuses_a_file_that_is_not_utf8(operator_client):
    account = VendorAccountFactory()
    upload = io.BytesIO("number\n17000000001\n".encode("utf-16"))
    upload.name = "n.csv"
    response = operator_client.post(
        reverse("accounts:number_import"), {"vendor_account": account.pk, "file": upload}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["The file must be UTF-8 CSV."]
    assert not PrivacyNumber.objects.exists()


def test_number_delete_asks_for_confirmation(operator_client):
    number = PrivacyNumberFactory()
    assert (
        operator_client.get(reverse("accounts:number_delete", args=[number.pk])).status_code == 200
    )
    assert PrivacyNumber.objects.exists()
    operator_client.post(reverse("accounts:number_delete", args=[number.pk]))
    assert not PrivacyNumber.objects.exists()


def test_number_delete_page_explains_a_refusal(operator_client):
    binding = BindingFactory()
    url = reverse("accounts:number_delete", args=[binding.x_number_id])
    response = operator_client.post(url, follow=True)
    assert response.status_code == 200
    (message,) = [str(m) for m in response.context["messages"]]
    assert "was not removed" in message and "1 binding" in message
    assert PrivacyNumber.objects.filter(pk=binding.x_number_id).exists()


def test_admin_deletes_numbers_through_the_service(client, administrator, monkeypatch):
    from accounts import services

    unused = PrivacyNumberFactory()
    deleted = []
    real = services.number_delete
    monkeypatch.setattr(
        services,
        "number_delete",
        lambda *, number: deleted.append(number.pk) or real(number=number),
    )
    client.force_login(administrator)
    url = f"/admin/accounts/privacynumber/{unused.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert deleted == [unused.pk] and not PrivacyNumber.objects.exists()
    # A number bindings refer to gets the admin's refusal page, not a 500.
    binding = BindingFactory()
    page = client.get(f"/admin/accounts/privacynumber/{binding.x_number_id}/delete/")
    assert page.status_code == 200 and PrivacyNumber.objects.filter(pk=binding.x_number_id).exists()


@pytest.mark.parametrize(
    ("url_name", "params"),
    [
        ("accounts:number_list", {"vendor_account": "abc"}),
        ("accounts:number_list", {"vendor_account": "²"}),
        ("accounts:number_list", {"q": "\x00"}),
        ("accounts:number_list", {"status": "\x00"}),
        ("accounts:vendor_account_list", {"q": "\x00"}),
        ("accounts:vendor_account_list", {"vendor": "nope"}),
    ],
)
def test_unusable_list_filters_are_form_errors(operator_client, url_name, params):
    PrivacyNumberFactory()
    response = operator_client.get(reverse(url_name), params)
    assert response.status_code == 200
    assert list(response.context["page"]) == []
    (field,) = params
    assert f"{field}: " in response.content.decode()


def test_number_page_search_by_fragment_needs_full_numbers(client, operator_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    PrivacyNumberFactory(number="+8617012340021")
    viewer = UserFactory(username="pool-viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_privacynumber"))
    url = reverse("accounts:number_list")
    assert len(operator_client.get(url, {"q": "0021"}).context["page"]) == 1
    client.force_login(viewer)
    assert len(client.get(url, {"q": "0021"}).context["page"]) == 0
    assert len(client.get(url, {"q": "170 1234 0021"}).context["page"]) == 1


def test_admin_number_search_follows_the_complete_number_rule(client, administrator):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    PrivacyNumberFactory(number="+8617012340021", note="spare")
    viewer = UserFactory(username="admin-viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_privacynumber"))
    url = "/admin/accounts/privacynumber/"

    def count(user, q):
        client.force_login(user)
        return client.get(url, {"q": q}).context["cl"].result_count

    assert count(administrator, "0021") == 1
    assert count(viewer, "0021") == 0 and count(viewer, "170") == 0
    assert count(viewer, "17012340021") == 1
    assert count(viewer, "spare") == 1  # other search fields are unchanged


@pytest.mark.parametrize(
    ("vendor", "offered"), [("ccp", True), ("igw", True), ("huawei", False), ("cyj", False)]
)
def test_status_check_is_offered_only_where_the_vendor_has_the_api(
    operator_client, vendor, offered
):
    account = VendorAccountFactory(vendor=vendor)
    page = operator_client.get(f"/accounts/vendor-accounts/{account.pk}/").content.decode()
    assert ("Check status at the vendor" in page) is offered
    assert ("publishes no account-status API" in page) is not offered


def test_status_check_of_a_vendor_without_the_api_is_refused(operator_client):
    account = VendorAccountFactory(vendor="huawei")
    response = operator_client.post(
        reverse("accounts:vendor_account_check_status", args=[account.pk]), follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "huawei offers no account-status API."
    ]
    account.refresh_from_db()
    assert account.status_checked_at is None


def test_number_pages_are_named_apart_and_link_each_other(operator_client):
    numbers = operator_client.get("/accounts/numbers/").content.decode()
    pool = operator_client.get(reverse("privacy:pool")).content.decode()
    home = operator_client.get("/").content.decode()
    for page in (numbers, pool, home):
        assert "Number pool" not in page and ">Numbers<" not in page
    assert "<h1>X numbers</h1>" in numbers and reverse("privacy:pool") in numbers
    assert "Pool usage" in pool and 'href="/accounts/numbers/">Manage X numbers' in pool


@pytest.mark.parametrize(("vendor", "subs"), [("ccp", True), ("igw", False), ("cyj", False)])
def test_sub_accounts_section_only_where_the_vendor_has_them(operator_client, vendor, subs):
    account = VendorAccountFactory(vendor=vendor)
    html = operator_client.get(
        reverse("accounts:vendor_account_detail", args=[account.pk])
    ).content.decode()
    assert ("<h2>Sub-accounts</h2>" in html) is subs


def test_sub_accounts_only_for_vendors_that_declare_them():
    from django.core.exceptions import ValidationError

    from accounts import services

    with pytest.raises(ValidationError, match="igw accounts have no sub-accounts"):
        services.sub_account_create(
            vendor_account=VendorAccountFactory(vendor="igw"), friendly_name="x"
        )
