"""core.services.model_update: the one allow-list check of every partial-update service."""

import pytest

from accounts import services as accounts_services
from accounts.models import PrivacyNumber, VendorAccount
from core.services import model_update
from sandbox import services as sandbox_services
from sandbox.models import SandboxAccount
from tests.factories import PrivacyNumberFactory, VendorAccountFactory


def test_model_update_sets_the_allowed_fields_and_names_them():
    number = PrivacyNumber(number="+8613800138000", note="old")
    changed = model_update(number, fields={"note": "new"}, allowed=("note", "status"))
    assert changed == ["note"]
    assert number.note == "new"


def test_model_update_refuses_any_other_field_and_sets_nothing():
    number = PrivacyNumber(number="+8613800138000", note="old")
    with pytest.raises(TypeError, match="PrivacyNumber fields that may not change here: number"):
        model_update(number, fields={"note": "new", "number": "+1"}, allowed=("note",))
    assert (number.note, number.number) == ("old", "+8613800138000")


@pytest.mark.django_db
def test_every_partial_update_service_refuses_fields_outside_its_list():
    account = VendorAccountFactory()
    number = PrivacyNumberFactory(vendor_account=account)
    sandbox = sandbox_services.ensure_sandbox_account(vendor_account=account)
    token = account.webhook_token
    with pytest.raises(TypeError):
        accounts_services.vendor_account_update(account=account, webhook_token="x")
    with pytest.raises(TypeError):
        accounts_services.number_update(number=number, vendor_account=VendorAccountFactory())
    with pytest.raises(TypeError):
        sandbox_services.account_set_chaos(account=sandbox, secret="x")
    assert VendorAccount.objects.get(pk=account.pk).webhook_token == token
    assert PrivacyNumber.objects.get(pk=number.pk).vendor_account_id == account.pk
    assert SandboxAccount.objects.get(pk=sandbox.pk).secret == sandbox.secret
