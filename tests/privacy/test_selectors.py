"""privacy.selectors: the reads other code relies on (idempotency look-up, labels, and
the binding a call belongs to, which callbacks resolve on every CDR)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from privacy import selectors
from privacy.models import Binding
from tests.factories import BindingFactory, UserFactory

pytestmark = pytest.mark.django_db


def _call(account, vendor_binding_id="", x_number="", at=None):
    return selectors.binding_for_call(
        account_id=account.pk,
        vendor_binding_id=vendor_binding_id,
        x_number=x_number,
        at=at or timezone.now(),
    )


def test_a_call_belongs_to_the_binding_with_the_vendors_id(igw_account):
    binding = BindingFactory(vendor_account=igw_account, vendor_binding_id="sub-1")
    BindingFactory(vendor_account=igw_account, vendor_binding_id="sub-2")
    assert _call(igw_account, "sub-1") == binding.pk
    assert _call(igw_account, "nope") is None


def test_a_reused_vendor_id_picks_the_newest_binding_made_before_the_call(cyj_account):
    older = BindingFactory(vendor_account=cyj_account, kind="cyj", vendor_binding_id="17100000001")
    newer = BindingFactory(vendor_account=cyj_account, kind="cyj", vendor_binding_id="17100000001")
    Binding.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=2))
    between = timezone.now() - timedelta(hours=1)
    assert _call(cyj_account, "17100000001", at=between) == older.pk
    assert _call(cyj_account, "17100000001") == newer.pk


def test_an_xa_call_without_a_vendor_id_is_linked_by_its_x(igw_account):
    xa = BindingFactory(vendor_account=igw_account, kind="xa", b_number="", vendor_binding_id="")
    axb = BindingFactory(vendor_account=igw_account, vendor_binding_id="sub-9")
    assert _call(igw_account, x_number=xa.x_number.number) == xa.pk
    # Only kinds whose calls are linked by X: an AXB's X alone does not link.
    assert _call(igw_account, x_number=axb.x_number.number) is None


def test_binding_for_idempotency_key(igw_account):
    user = UserFactory()
    binding = BindingFactory(
        vendor_account=igw_account, created_by=user, client_idempotency_key="k"
    )
    assert selectors.binding_for_idempotency_key(user=user, key="k") == binding
    assert selectors.binding_for_idempotency_key(user=user, key="") is None
    assert selectors.binding_for_idempotency_key(user=None, key="k") is None
    assert selectors.binding_for_idempotency_key(user=UserFactory(), key="k") is None


def test_describe_for_masks_numbers(igw_account):
    binding = BindingFactory(
        vendor_account=igw_account, a_number="+8613800138000", b_number="+8613900139000"
    )
    text = selectors.describe_for(binding, UserFactory())
    assert f"#{binding.pk}" in text and "13800138000" not in text and "138****8000" in text
