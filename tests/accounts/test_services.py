import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import PrivacyNumber, VendorAccount
from tests.factories import BindingFactory, PrivacyNumberFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db

GOOD = {
    "vendor": "igw",
    "name": "Main IGW",
    "base_url": "https://igw.example.com",
    "account_id": "10000000",
    "secret": "auth-key-1",
    "app_id": "app1",
}


def test_create_account_with_valid_extra():
    account = services.vendor_account_create(**GOOD, extra={"max_bindings_per_x": 5000})
    assert account.pk and account.extra == {"max_bindings_per_x": 5000}
    assert len(account.webhook_token) == 48


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"vendor": "acme"}, "vendor"),
        ({"base_url": "not a url"}, "base_url"),
        ({"secret": ""}, "secret"),
        ({"extra": {"nonsense": 1}}, "extra"),
        ({"extra": {"max_bindings_per_x": "many"}}, "extra"),
        ({"extra": {"callback_ip_allowlist": ["10.0.0.0/33"]}}, "extra"),
        ({"extra": {"recording_hosts": ["10.0.0.5:0"]}}, "extra"),
        ({"extra": {"recording_hosts": ["cdn.example.net:https"]}}, "extra"),
    ],
)
def test_bad_account_input_gets_field_errors_and_writes_nothing(override, field):
    with pytest.raises(ValidationError) as exc:
        services.vendor_account_create(**{**GOOD, **override})
    assert field in exc.value.message_dict
    assert not VendorAccount.objects.exists()


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8871/reflect?",
        "https://igw.example.com/api?x=1",
        "https://igw.example.com/api#top",
        "ftp://igw.example.com/api",
        "https://user:pw@igw.example.com/api",
    ],
)
def test_base_url_with_query_fragment_credentials_or_other_scheme_is_a_field_error(base_url):
    with pytest.raises(ValidationError) as exc:
        services.vendor_account_create(**{**GOOD, "base_url": base_url})
    assert list(exc.value.message_dict) == ["base_url"]
    assert not VendorAccount.objects.exists()
    account = services.vendor_account_create(**GOOD)
    with pytest.raises(ValidationError) as exc:
        services.vendor_account_update(account=account, base_url=base_url)
    assert list(exc.value.message_dict) == ["base_url"]
    account.refresh_from_db()
    assert account.base_url == GOOD["base_url"]


def test_duplicate_name_is_a_field_error():
    services.vendor_account_create(**GOOD)
    with pytest.raises(ValidationError) as exc:
        services.vendor_account_create(**GOOD)
    assert "name" in exc.value.message_dict


def test_update_keeps_secret_when_not_given():
    account = VendorAccountFactory(secret="keep-me")
    services.vendor_account_update(account=account, name="renamed", secret="")
    account.refresh_from_db()
    assert (account.name, account.secret) == ("renamed", "keep-me")


def test_regenerating_the_token_revokes_the_old_urls():
    account = VendorAccountFactory()
    old = account.webhook_token
    services.vendor_account_regenerate_webhook_token(account=account)
    assert account.webhook_token != old


def test_numbers_are_normalized_and_duplicates_refused():
    account = VendorAccountFactory()
    number = services.number_create(vendor_account=account, number="0086 170 0000 0001")
    assert number.number == "+8617000000001"
    with pytest.raises(ValidationError) as exc:
        services.number_create(vendor_account=account, number="17000000001")
    assert "number" in exc.value.message_dict
    assert PrivacyNumber.objects.count() == 1


def test_number_delete_removes_an_unused_number_and_its_load_row():
    binding = BindingFactory(state="released")
    unused = PrivacyNumberFactory(vendor_account=binding.vendor_account)
    services.number_delete(number=unused)
    assert not PrivacyNumber.objects.filter(pk=unused.pk).exists()
    services.number_delete(number=unused)  # already gone: nothing to do, no error


def test_number_delete_refuses_a_number_bindings_refer_to():
    binding = BindingFactory(state="released")  # ended bindings keep their X too
    with pytest.raises(ValidationError) as exc:
        services.number_delete(number=binding.x_number)
    assert exc.value.code == "in_use"
    assert "1 binding" in exc.value.messages[0] and "retire" in exc.value.messages[0]
    assert PrivacyNumber.objects.filter(pk=binding.x_number_id).exists()


def test_csv_import_is_all_or_nothing_and_reports_every_bad_row():
    account = VendorAccountFactory()
    PrivacyNumberFactory(number="+8617000000009", vendor_account=account)
    csv_text = (
        "number,area_code,status,note\n"
        "17000000001,010,available,ok\n"  # line 2: good
        "12345,010,,\n"  # line 3: not a number
        "17000000001,010,,\n"  # line 4: repeats line 2
        "17000000002,010,busy,\n"  # line 5: bad status
        "+8617000000009,010,,\n"  # line 6: already in the pool
    )
    with pytest.raises(services.NumberImportError) as exc:
        services.numbers_import_csv(vendor_account=account, csv_text=csv_text)
    assert [p.line for p in exc.value.problems] == [3, 4, 5, 6]
    assert "repeats line 2" in exc.value.problems[1].reason
    assert PrivacyNumber.objects.count() == 1


def test_csv_import_writes_every_good_row():
    account = VendorAccountFactory()
    rows = services.numbers_import_csv(
        vendor_account=account,
        csv_text="\ufeffnumber,area_code\n17000000001,010\n+8617000000002,021\n",
    )
    assert len(rows) == 2
    assert set(PrivacyNumber.objects.values_list("number", flat=True)) == {
        "+8617000000001",
        "+8617000000002",
    }


@pytest.mark.parametrize(
    "text", ["", "phone\n123\n", "number,colour\n17000000001,red\n", "number\n"]
)
def test_csv_import_refuses_bad_files(text):
    with pytest.raises(services.NumberImportError):
        services.numbers_import_csv(vendor_account=VendorAccountFactory(), csv_text=text)


def test_rotate_encryption_key_reencrypts_with_the_new_key(settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from core import crypto

    account = VendorAccountFactory(secret="rotate-me")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new_key},{settings.FIELD_ENCRYPTION_KEY}"
    crypto._fernet.cache_clear()
    try:
        call_command("rotate_encryption_key")
        settings.FIELD_ENCRYPTION_KEY = new_key  # the old key is gone now
        crypto._fernet.cache_clear()
        account.refresh_from_db()
        assert account.secret == "rotate-me"
    finally:
        crypto._fernet.cache_clear()


def test_webhook_tokens_fit_huawei_url_charset():
    # huawei 表4: statusUrl/feeUrl may hold only [A-Za-z0-9-:./].
    import re

    token = VendorAccountFactory().webhook_token
    assert re.fullmatch(r"[0-9a-f]{48}", token)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("number,note\n17000000001,a\x00b\n", "contains a NUL character"),
        ("number,area_code\n17000000001,0\x0010\n", "contains a NUL character"),
        ("number\n17000000001,extra\n", "more cells than the header names"),
        ("number\n" + "1" * 200_000 + "\n", "not CSV"),  # over the csv module's cell limit
    ],
    ids=["nul-note", "nul-area", "extra-cell", "huge-cell"],
)
def test_csv_import_reports_nul_and_malformed_rows(text, reason):
    with pytest.raises(services.NumberImportError) as exc:
        services.numbers_import_csv(vendor_account=VendorAccountFactory(), csv_text=text)
    assert [(p.line, p.reason.startswith(reason)) for p in exc.value.problems] == [(2, True)]
    assert not PrivacyNumber.objects.exists()
