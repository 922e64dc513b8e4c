import pytest
from django.contrib.auth.models import Group

from accounts.roles import ADMINISTRATORS, BUSINESS_STAFF, OPERATORS

pytestmark = pytest.mark.django_db


def test_groups_exist_with_their_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert {OPERATORS, BUSINESS_STAFF, ADMINISTRATORS} <= names


def test_operator_sees_full_numbers_and_staff_does_not(operator, staff_user, administrator):
    assert operator.has_perm("accounts.view_full_numbers")
    assert operator.has_perm("accounts.change_vendoraccount")
    assert not staff_user.has_perm("accounts.view_full_numbers")
    assert not staff_user.has_perm("accounts.view_vendoraccount")
    assert administrator.has_perm("accounts.view_full_numbers")
    assert administrator.has_perm("auth.change_user")


def test_demo_seed_is_idempotent_and_prints_logins(capsys):
    from django.core.management import call_command

    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "operator" in out and "operator-demo-1" in out
    from accounts.models import VendorAccount

    assert VendorAccount.objects.count() == 4
