import io

import pytest

from accounts.models import PrivacyNumber, VendorAccount
from tests.factories import BindingFactory, PrivacyNumberFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "vendor": "huawei",
    "name": "HW voice",
    "base_url": "https://rtccall.cn-north-1.myhuaweicloud.com:443",
    "account_id": "ZRBRz4bAXoFgEH7o4Ew308eXc1RA",
    "secret": "very-secret-app-secret",
    "extra": {"push_signature": "require"},
}


def test_create_returns_webhook_urls_and_never_the_secret(operator_api):
    response = operator_api.post("/api/v1/vendor-accounts/", PAYLOAD, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secret" not in body and body["secret_set"] is True
    assert "very-secret-app-secret" not in response.content.decode()
    token = VendorAccount.objects.get().webhook_token
    assert body["webhook_urls"] == {
        "status": f"https://console.example.com/callbacks/{token}/status/",
        "cdr": f"https://console.example.com/callbacks/{token}/cdr/",
    }


def test_update_and_disable(operator_api):
    account = VendorAccountFactory(secret="old-secret")
    response = operator_api.patch(
        f"/api/v1/vendor-accounts/{account.pk}/", {"enabled": False}, format="json"
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.enabled is False and account.secret == "old-secret"


def test_vendor_cannot_change(operator_api):
    account = VendorAccountFactory(vendor="igw")
    response = operator_api.patch(
        f"/api/v1/vendor-accounts/{account.pk}/", {"vendor": "cyj"}, format="json"
    )
    assert response.status_code == 400
    assert "vendor" in response.json()["extra"]["fields"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"vendor": "acme"}, "vendor"),
        ({"base_url": "ftp//nope"}, "base_url"),
        ({"base_url": "ftp://igw.example.com/api"}, "base_url"),
        ({"base_url": "http://127.0.0.1:8871/reflect?"}, "base_url"),
        ({"base_url": "https://igw.example.com/api#x"}, "base_url"),
        ({"secret": ""}, "secret"),
        ({"extra": {"push_signature": "sometimes"}}, "extra"),
    ],
)
def test_bad_input_gets_field_errors_and_writes_nothing(operator_api, override, field):
    response = operator_api.post("/api/v1/vendor-accounts/", {**PAYLOAD, **override}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation error"
    assert field in body["extra"]["fields"]
    assert not VendorAccount.objects.exists()


def test_anonymous_gets_401_and_staff_403(api_client, staff_api):
    assert api_client.get("/api/v1/vendor-accounts/").status_code == 401
    assert api_client.post("/api/v1/numbers/", {}).status_code == 401
    assert staff_api.get("/api/v1/vendor-accounts/").status_code == 403
    assert staff_api.post("/api/v1/vendor-accounts/", PAYLOAD, format="json").status_code == 403
    assert not VendorAccount.objects.exists()


def test_token_authentication(api_client, operator):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=operator)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get("/api/v1/vendor-accounts/").status_code == 200


def test_numbers_crud_and_duplicate(operator_api):
    account = VendorAccountFactory()
    created = operator_api.post(
        "/api/v1/numbers/", {"number": "17000000001", "vendor_account": account.pk}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["number"] == "17000000001"
    duplicate = operator_api.post(
        "/api/v1/numbers/",
        {"number": "+8617000000001", "vendor_account": account.pk},
        format="json",
    )
    assert duplicate.status_code == 400
    assert "number" in duplicate.json()["extra"]["fields"]
    pk = created.json()["id"]
    assert operator_api.patch(f"/api/v1/numbers/{pk}/", {"status": "suspended"}).status_code == 200
    assert PrivacyNumber.objects.get().status == "suspended"
    assert operator_api.delete(f"/api/v1/numbers/{pk}/").status_code == 204


def test_deleting_a_number_with_bindings_is_a_409_not_a_500(operator_api):
    binding = BindingFactory()
    response = operator_api.delete(f"/api/v1/numbers/{binding.x_number_id}/")
    assert response.status_code == 409
    body = response.json()
    assert body["extra"] == {} and "1 binding" in body["message"] and "retire" in body["message"]
    assert PrivacyNumber.objects.filter(pk=binding.x_number_id).exists()


def test_number_list_masks_for_users_without_full_number_permission(staff_user, api_client):
    from django.contrib.auth.models import Permission

    PrivacyNumberFactory(number="+8617012340021", note="was 13812340021's line")
    staff_user.user_permissions.add(Permission.objects.get(codename="view_privacynumber"))
    api_client.force_authenticate(staff_user)
    response = api_client.get("/api/v1/numbers/")
    assert response.status_code == 200
    assert response.json()["results"][0]["number"] == "170****0021"
    assert response.json()["results"][0]["note"] == "was 138****0021's line"


def test_csv_import_reports_bad_rows_with_line_numbers(operator_api):
    account = VendorAccountFactory()
    upload = io.BytesIO(b"number,area_code\n17000000001,010\nnope,010\n17000000001,010\n")
    upload.name = "numbers.csv"
    response = operator_api.post(
        "/api/v1/numbers/import/",
        {"vendor_account": account.pk, "file": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["file"] == [
        {"line": 3, "reason": "'nope' is not a phone number."},
        {"line": 4, "reason": "+8617000000001 repeats line 2"},
    ]
    assert not PrivacyNumber.objects.exists()


def test_csv_import_refuses_a_file_that_is_not_utf8(operator_api):
    account = VendorAccountFactory()
    upload = io.BytesIO("number\n17000000001\n".encode("utf-16"))
    upload.name = "numbers.csv"
    response = operator_api.post(
        "/api/v1/numbers/import/",
        {"vendor_account": account.pk, "file": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"file": ["The file must be UTF-8 CSV."]}
    assert not PrivacyNumber.objects.exists()


def test_csv_columns_are_the_number_fields_the_api_shows():
    from accounts.api import NumberSerializer
    from accounts.services import IMPORT_COLUMNS

    shown = NumberSerializer.Meta.fields
    assert set(IMPORT_COLUMNS) <= set(shown)
    assert set(shown) - set(IMPORT_COLUMNS) == {"id", "vendor_account", "created_at"}


def test_csv_import_creates_all(operator_api):
    account = VendorAccountFactory()
    upload = io.BytesIO(b"number\n17000000001\n17000000002\n")
    upload.name = "numbers.csv"
    response = operator_api.post(
        "/api/v1/numbers/import/",
        {"vendor_account": account.pk, "file": upload},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json() == {"created": 2}


def test_openapi_schema_is_served(operator_api):
    response = operator_api.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/vendor-accounts/" in response.content


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        ({"vendor_account": "²", "csv": "number\n17000000001\n"}, "json"),
        ({"vendor_account": "99999999999999999999", "csv": "number\n"}, "json"),
        (["vendor_account"], "json"),
        ({"vendor_account": 1, "csv": "number\n1700\x000000001\n"}, "json"),
    ],
)
def test_csv_import_refuses_bad_input_with_a_400(operator_api, data, fmt):
    VendorAccountFactory()
    response = operator_api.post("/api/v1/numbers/import/", data, format=fmt)
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]
    assert not PrivacyNumber.objects.exists()


def test_csv_import_file_with_a_nul_is_a_row_error(operator_api):
    account = VendorAccountFactory()
    upload = io.BytesIO(b"number,note\n17000000001,ok\n17000000002,bad\x00note\n")
    upload.name = "numbers.csv"
    response = operator_api.post(
        "/api/v1/numbers/import/",
        {"vendor_account": account.pk, "file": upload},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["file"] == [
        {"line": 3, "reason": "contains a NUL character"}
    ]


@pytest.mark.parametrize("params", [{"vendor_account": "abc"}, {"status": "\x00"}])
def test_number_list_refuses_unusable_filters(operator_api, params):
    response = operator_api.get("/api/v1/numbers/", params)
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == set(params)


def test_number_search_by_fragment_needs_full_numbers(operator_api, api_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    number = PrivacyNumberFactory(number="+8617012340021")
    viewer = UserFactory(username="pool-viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_privacynumber"))
    api_client.force_authenticate(viewer)

    def ids(api, q):
        return [row["id"] for row in api.get("/api/v1/numbers/", {"q": q}).json()["results"]]

    assert ids(api_client, "0021") == [] and ids(api_client, "170") == []
    assert ids(api_client, "17012340021") == [number.pk]
    assert ids(operator_api, "0021") == [number.pk]
