"""privacy.services: validation, allocation, idempotency, state machine, beat jobs.

Vendor calls are not made here (db-wrapped tests never commit, so on_commit tasks
never run); the vendor paths are in test_tasks.py against the sandbox.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import PrivacyNumber
from privacy import kinds, services
from privacy.models import Binding, BindingTransition, XLoad
from tests.factories import BindingFactory, PrivacyNumberFactory, UserFactory, VendorAccountFactory
from vendors import errors as verr

pytestmark = pytest.mark.django_db

A = "13800138000"
B = "+86 139 0013 9000"
C = "008613700137000"


def create(account, **kwargs):
    defaults = {"kind": "axb", "vendor_account": account, "a_number": A, "b_number": B, "ttl": 600}
    return services.binding_create(**{**defaults, **kwargs})


def fields_of(exc_info) -> dict:
    return exc_info.value.message_dict


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"kind": "abc"}, "kind"),
        ({"a_number": "12345"}, "a_number"),
        ({"b_number": ""}, "b_number"),
        ({"b_number": "+8613800138000"}, "b_number"),  # A == B after normalization
        ({"ttl": 0}, "ttl"),
        ({"ttl": None}, "ttl"),
        ({"ttl": kinds.KINDS["axb"].ttl_max + 1}, "ttl"),
        ({"display": "2,2"}, "display"),
        ({"direct": 1}, "direct"),
        ({"area_code": "abc"}, "area_code"),
        ({"user_data": "x" * 257}, "user_data"),
        ({"x_number": "17199999999"}, "x_number"),  # not in the pool
    ],
)
def test_invalid_input_is_a_field_error_and_writes_nothing(igw_account, make_pool, override, field):
    make_pool(igw_account, 2)
    with pytest.raises(ValidationError) as exc:
        create(igw_account, **override)
    assert field in fields_of(exc)
    assert not Binding.objects.exists() and not BindingTransition.objects.exists()


def test_numbers_are_normalized_in_every_accepted_form(igw_account, make_pool):
    make_pool(igw_account, 1)
    binding = create(igw_account, a_number=A, b_number=C)
    assert (binding.a_number, binding.b_number) == ("+8613800138000", "+8613700137000")
    fixed = create(igw_account, a_number="010-12345678", b_number=B, x_number=None)
    assert fixed.a_number == "+861012345678"


def test_disabled_account_is_refused(igw_account, make_pool):
    make_pool(igw_account, 1)
    igw_account.enabled = False
    igw_account.save()
    with pytest.raises(ValidationError) as exc:
        create(igw_account)
    assert "disabled" in fields_of(exc)["vendor_account"][0]


@pytest.mark.parametrize(("vendor", "kind"), [("igw", "cyj"), ("cyj", "axb"), ("ccp", "axb")])
def test_vendor_must_offer_the_kind(vendor, kind):
    account = VendorAccountFactory(vendor=vendor)
    with pytest.raises(ValidationError) as exc:
        create(account, kind=kind, ttl=600)
    assert "does not offer" in fields_of(exc)["vendor_account"][0]


def test_x_must_belong_to_the_account_and_be_available(igw_account, make_pool):
    other = PrivacyNumberFactory(vendor_account=VendorAccountFactory(vendor="igw"))
    suspended = PrivacyNumberFactory(
        vendor_account=igw_account, status=PrivacyNumber.Status.SUSPENDED
    )
    with pytest.raises(ValidationError) as exc:
        create(igw_account, x_number=other.number)
    assert "another vendor account" in fields_of(exc)["x_number"][0]
    with pytest.raises(ValidationError) as exc:
        create(igw_account, x_number=suspended)
    assert "suspended" in fields_of(exc)["x_number"][0]


def test_cyj_ttl_bounds_and_default(cyj_account):
    with pytest.raises(ValidationError) as exc:
        create(cyj_account, kind="cyj", ttl=3601)
    assert "ttl" in fields_of(exc)
    binding = create(cyj_account, kind="cyj", ttl=None)
    assert binding.ttl == kinds.KINDS["cyj"].ttl_default and binding.direct == 0
    assert binding.x_number is None  # no pool: the vendor picks the number


def test_xa_has_no_b_and_defaults_to_forever(igw_account, make_pool):
    make_pool(igw_account, 1)
    with pytest.raises(ValidationError) as exc:
        create(igw_account, kind="xa", b_number=B)
    assert "b_number" in fields_of(exc)
    binding = create(igw_account, kind="xa", b_number="", ttl=None)
    assert binding.ttl == 0 and binding.expires_at is None and binding.display == "0"


# ------------------------------------------------------------------ allocation


def test_create_is_pending_with_a_reqid_and_a_recorded_transition(igw_account, make_pool):
    make_pool(igw_account, 2)
    user = UserFactory()
    binding = create(igw_account, created_by=user)
    assert binding.state == Binding.State.PENDING and len(binding.reqid) == 32
    assert binding.expires_at is not None
    (t,) = binding.transitions.all()
    assert (t.from_state, t.to_state, t.actor) == ("", "pending", user)
    assert t.actor_label == user.username


def test_allocation_prefers_the_least_loaded_x(igw_account, make_pool):
    x1, x2, x3 = make_pool(igw_account, 3)
    BindingFactory(vendor_account=igw_account, x_number=x1)
    BindingFactory(vendor_account=igw_account, x_number=x1)
    BindingFactory(vendor_account=igw_account, x_number=x2)
    assert create(igw_account).x_number == x3
    # Ended bindings do not count.
    BindingFactory(vendor_account=igw_account, x_number=x2, state=Binding.State.RELEASED)
    assert create(igw_account, a_number=C).x_number == x2


def test_allocation_never_pairs_a_or_b_twice_on_one_x(igw_account, make_pool):
    x1, x2 = make_pool(igw_account, 2)
    # A is B of a binding on x1: x1 is not usable for A even in the other role.
    BindingFactory(vendor_account=igw_account, x_number=x1, b_number="+8613800138000")
    assert create(igw_account).x_number == x2
    with pytest.raises(ValidationError) as exc:
        create(igw_account, b_number=C)
    assert "already pairs 13800138000 or 13700137000" in fields_of(exc)["x_number"][0]


def test_area_code_restricts_the_choice(igw_account, make_pool):
    make_pool(igw_account, 2, area_code="010")
    (sh,) = make_pool(igw_account, 1, area_code="021", start=100)
    assert create(igw_account, area_code="021").x_number == sh
    with pytest.raises(ValidationError) as exc:
        create(igw_account, area_code="0755")
    assert "no available number in area 0755" in fields_of(exc)["x_number"][0]


def test_cap_per_x(igw_account, make_pool):
    (x,) = make_pool(igw_account, 1)
    for n in range(3):  # the account's cap is 3
        BindingFactory(vendor_account=igw_account, x_number=x, a_number=f"+86135000000{n:02d}")
    with pytest.raises(ValidationError) as exc:
        create(igw_account)
    assert "cap of 3" in fields_of(exc)["x_number"][0]
    with pytest.raises(ValidationError) as exc:
        create(igw_account, x_number=x.number)
    assert "cap of 3" in fields_of(exc)["x_number"][0]


def test_mixed_exhaustion_names_both_reasons(igw_account, make_pool):
    x1, x2 = make_pool(igw_account, 2)
    BindingFactory(vendor_account=igw_account, x_number=x1, a_number="+8613800138000")
    for n in range(3):
        BindingFactory(vendor_account=igw_account, x_number=x2, a_number=f"+86135000000{n:02d}")
    with pytest.raises(ValidationError) as exc:
        create(igw_account)
    message = fields_of(exc)["x_number"][0]
    assert "1 already pair" in message and "1 are at their cap" in message


def test_empty_pool(igw_account):
    with pytest.raises(ValidationError) as exc:
        create(igw_account)
    assert "has no available numbers" in fields_of(exc)["x_number"][0]


def test_xa_needs_its_x_alone_and_blocks_axb(igw_account, make_pool):
    x1, x2 = make_pool(igw_account, 2)
    BindingFactory(vendor_account=igw_account, x_number=x1)
    xa = create(igw_account, kind="xa", b_number="", ttl=0)
    assert xa.x_number == x2
    with pytest.raises(ValidationError) as exc:
        create(igw_account, x_number=x2.number, a_number=C)
    assert "XA transfer" in fields_of(exc)["x_number"][0]
    with pytest.raises(ValidationError) as exc:
        create(igw_account, kind="xa", b_number="", ttl=0, a_number=C)
    assert "already carries bindings" in fields_of(exc)["x_number"][0]


def test_explicit_x_with_a_pairing_conflict(igw_account, make_pool):
    (x,) = make_pool(igw_account, 1)
    create(igw_account, x_number=x.number)
    with pytest.raises(ValidationError) as exc:
        create(igw_account, x_number=x.number, b_number=C)
    assert "already pairs 13800138000" in fields_of(exc)["x_number"][0]
    assert Binding.objects.count() == 1


def test_cyj_allocates_from_its_pool_when_it_has_one(cyj_account, make_pool):
    (x,) = make_pool(cyj_account, 1)
    assert create(cyj_account, kind="cyj", ttl=600).x_number == x


def _bind_and_release_cyj(account):
    binding = create(account, kind="cyj", ttl=600)
    binding = services.binding_mark_active(binding_id=binding.pk, vendor_binding_id="v1")
    return services.binding_release(binding=binding, actor="api")


def test_a_released_cyj_binding_holds_its_x_for_the_pair_until_its_end_time(cyj_account, make_pool):
    """cyj has no release API: re-binding A and B must not pick the X the vendor still holds."""
    first_x, second_x = make_pool(cyj_account, 2)
    released = _bind_and_release_cyj(cyj_account)
    assert released.state == "released" and released.x_number == first_x
    again = create(cyj_account, kind="cyj", ttl=600)
    assert again.x_number == second_x
    # The explicit choice of the held X is refused with the reason.
    with pytest.raises(ValidationError) as exc:
        create(cyj_account, kind="cyj", ttl=600, x_number=first_x.number, b_number=C)
    assert "at the vendor until" in fields_of(exc)["x_number"][0]
    # Another pair is welcome on the held X.
    other = create(cyj_account, kind="cyj", ttl=600, a_number="13600136000", b_number=C)
    assert other.x_number == first_x


def test_the_held_x_is_free_again_after_the_end_time(cyj_account, make_pool):
    (x,) = make_pool(cyj_account, 1)
    released = _bind_and_release_cyj(cyj_account)
    with pytest.raises(ValidationError) as exc:
        create(cyj_account, kind="cyj", ttl=600)
    assert "released bindings count until their end time" in fields_of(exc)["x_number"][0]
    Binding.objects.filter(pk=released.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert create(cyj_account, kind="cyj", ttl=600).x_number == x


def test_held_cyj_bindings_count_towards_the_cap(cyj_account, make_pool):
    cyj_account.extra = {"max_bindings_per_x": 1}
    cyj_account.save()
    make_pool(cyj_account, 1)
    _bind_and_release_cyj(cyj_account)
    with pytest.raises(ValidationError) as exc:
        create(cyj_account, kind="cyj", ttl=600, a_number="13600136000", b_number=C)
    assert "cap of 1" in fields_of(exc)["x_number"][0]


# ------------------------------------------------------------------ idempotency


def test_idempotency_key_returns_the_same_binding(igw_account, make_pool):
    make_pool(igw_account, 3)
    user = UserFactory()
    first = create(igw_account, created_by=user, idempotency_key="ride-42")
    again = create(igw_account, created_by=user, idempotency_key="ride-42")
    assert again.pk == first.pk and Binding.objects.count() == 1
    # The key is per user: another user's identical key makes its own binding.
    other = create(igw_account, created_by=UserFactory(), idempotency_key="ride-42", b_number=C)
    assert other.pk != first.pk


def test_idempotency_key_reused_for_another_request(igw_account, make_pool):
    make_pool(igw_account, 3)
    user = UserFactory()
    create(igw_account, created_by=user, idempotency_key="k1")
    with pytest.raises(services.IdempotencyConflict):
        create(igw_account, created_by=user, idempotency_key="k1", b_number=C)


# ------------------------------------------------------------------ state machine


def test_mark_active_and_failed_only_from_pending(igw_account):
    binding = BindingFactory(vendor_account=igw_account, state=Binding.State.PENDING)
    active = services.binding_mark_active(binding_id=binding.pk, vendor_binding_id="S1")
    assert active.state == "active" and active.vendor_binding_id == "S1"
    assert active.activated_at and active.expires_at > timezone.now()
    assert services.binding_mark_failed(binding_id=binding.pk, code="x") is None
    assert [t.to_state for t in binding.transitions.all()] == ["active"]


def test_mark_failed_keeps_the_vendor_text_gloss_and_advice(igw_account):
    binding = BindingFactory(vendor_account=igw_account, state=Binding.State.PENDING)
    error = verr.InsufficientBalance("igw", "1110", "账号余额不足", message_en="Insufficient")
    services.binding_mark_failed(binding_id=binding.pk, error=error)
    binding.refresh_from_db()
    assert binding.state == "failed" and binding.failure_code == "1110"
    assert binding.failure_text == "账号余额不足" and binding.failure_text_en == "Insufficient"
    assert binding.failure_advice == "Top up the vendor account."
    assert binding.ended_at is not None


def test_cyj_activation_links_the_vendors_number_when_it_is_ours(cyj_account, make_pool):
    (x,) = make_pool(cyj_account, 1)
    binding = BindingFactory(
        vendor_account=cyj_account, kind="cyj", x_number=None, state="pending", display=""
    )
    services.binding_mark_active(
        binding_id=binding.pk, vendor_binding_id="17100000000", vendor_x_number="17100000000"
    )
    binding.refresh_from_db()
    assert binding.x_number == x and binding.vendor_binding_id == "17100000000"
    foreign = BindingFactory(vendor_account=cyj_account, kind="cyj", x_number=None, state="pending")
    services.binding_mark_active(
        binding_id=foreign.pk, vendor_binding_id="17055550000", vendor_x_number="17055550000"
    )
    foreign.refresh_from_db()
    assert foreign.state == "active" and foreign.x_number is None
    assert "not in our pool" in foreign.transitions.last().reason


def test_release_igw_goes_through_releasing(igw_account, django_capture_on_commit_callbacks):
    binding = BindingFactory(vendor_account=igw_account)
    user = UserFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        released = services.binding_release(binding=binding, actor=user)
    assert released.state == "releasing" and len(callbacks) == 1
    # Asking again changes nothing and sends nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.binding_release(binding=released, actor=user).state == "releasing"
    assert callbacks == []


def test_release_cyj_is_local(cyj_account):
    binding = BindingFactory(vendor_account=cyj_account, kind="cyj", x_number=None, display="")
    released = services.binding_release(binding=binding, actor="api")
    assert released.state == "released"
    assert "EndMinute" in released.transitions.last().reason


def test_release_refuses_pending_and_disabled_accounts(igw_account):
    pending = BindingFactory(vendor_account=igw_account, state="pending")
    with pytest.raises(ValidationError, match="pending"):
        services.binding_release(binding=pending, actor="api")
    igw_account.enabled = False
    igw_account.save()
    active = BindingFactory(vendor_account=igw_account)
    with pytest.raises(ValidationError, match="disabled"):
        services.binding_release(binding=active, actor="api")


def test_release_many_skips_what_is_not_active(igw_account):
    active = BindingFactory(vendor_account=igw_account)
    failed = BindingFactory(vendor_account=igw_account, state="failed")
    done, skipped = services.binding_release_many(bindings=[active, failed], actor="api")
    assert [b.pk for b in done] == [active.pk]
    assert skipped[0][0] == failed and "failed" in skipped[0][1]


def test_a_released_pairing_can_be_made_again(igw_account, make_pool):
    (x,) = make_pool(igw_account, 1)
    first = create(igw_account, x_number=x.number)
    Binding.objects.filter(pk=first.pk).update(state="released")
    assert create(igw_account, x_number=x.number).x_number == x


# ------------------------------------------------------------------ beat jobs


def test_expire_due(igw_account):
    past = timezone.now() - timedelta(seconds=1)
    due = BindingFactory(vendor_account=igw_account, expires_at=past)
    releasing = BindingFactory(vendor_account=igw_account, expires_at=past, state="releasing")
    later = BindingFactory(vendor_account=igw_account, expires_at=past + timedelta(hours=1))
    forever = BindingFactory(vendor_account=igw_account, kind="xa", b_number="", expires_at=None)
    assert services.bindings_expire_due() == 2
    states = dict(Binding.objects.values_list("pk", "state"))
    assert states[due.pk] == states[releasing.pk] == "expired"
    assert states[later.pk] == states[forever.pk] == "active"
    assert due.transitions.get().actor_label == "beat"


def test_bind_and_release_are_recorded_in_the_outbox_until_settled(
    igw_account, make_pool, django_capture_on_commit_callbacks
):
    from core.models import OutboxItem
    from privacy.tasks import BIND_TASK, RELEASE_TASK

    make_pool(igw_account, 1)

    with django_capture_on_commit_callbacks() as callbacks:
        binding = services.binding_create(
            kind="axb", vendor_account=igw_account, a_number=A, b_number=B, ttl=600
        )
    assert len(callbacks) == 1  # the doorbell (not run: no vendor here)
    assert OutboxItem.objects.get().task == BIND_TASK
    services.binding_mark_active(binding_id=binding.pk, vendor_binding_id="s-1")
    assert not OutboxItem.objects.exists()  # in the transaction of the activation
    binding.refresh_from_db()
    with django_capture_on_commit_callbacks():
        services.binding_release(binding=binding, actor="api")
    assert OutboxItem.objects.get().task == RELEASE_TASK
    assert services.bindings_expire_due(now=timezone.now() + timedelta(days=1)) == 1
    assert not OutboxItem.objects.exists()


# ------------------------------------------------------------------ load hint


def load_of(x) -> int:
    return XLoad.objects.get(x_number=x).live


def test_load_hint_follows_create_release_and_expiry(igw_account, make_pool):
    (x,) = make_pool(igw_account, 1)
    assert load_of(x) == 0  # made for the new number by the post_save receiver
    binding = create(igw_account)
    assert load_of(x) == 1
    services.binding_mark_active(binding_id=binding.pk, vendor_binding_id="S1")
    assert load_of(x) == 1
    services.binding_release(binding=Binding.objects.get(pk=binding.pk), actor="api")
    assert load_of(x) == 1  # releasing still holds the X at the vendor
    services.bindings_expire_due(now=timezone.now() + timedelta(days=1))
    assert load_of(x) == 0


def test_bulk_imported_numbers_are_found(igw_account, make_pool):
    make_pool(igw_account, 1)
    create(igw_account)
    # bulk_create sends no post_save: no XLoad row until a sync.
    (fresh,) = PrivacyNumber.objects.bulk_create(
        [PrivacyNumber(number="+8617299990001", vendor_account=igw_account, area_code="010")]
    )
    assert not XLoad.objects.filter(x_number=fresh).exists()
    # The only known X already pairs A, so the pool looks exhausted, a sync runs and finds `fresh`.
    assert create(igw_account, b_number=C).x_number == fresh


def test_sync_corrects_drift(igw_account, make_pool):
    (x,) = make_pool(igw_account, 1)
    create(igw_account)
    XLoad.objects.filter(x_number=x).update(live=50)
    assert services.xload_sync() == 1
    assert load_of(x) == 1
