"""privacy.transitions: the state machine refuses moves its diagram does not have."""

import pytest

from privacy import transitions
from privacy.models import Binding
from tests.factories import BindingFactory

pytestmark = pytest.mark.django_db

S = Binding.State


def test_every_state_but_pending_can_be_entered():
    assert set(transitions.ALLOWED) == set(S.values) - {S.PENDING}


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [(S.RELEASED, S.ACTIVE), (S.PENDING, S.RELEASED), (S.EXPIRED, S.ACTIVE), (S.ACTIVE, S.FAILED)],
)
def test_a_move_outside_the_diagram_is_refused(igw_account, from_state, to_state):
    binding = BindingFactory(vendor_account=igw_account, state=from_state)
    with pytest.raises(ValueError, match="no move"):
        transitions.transition(
            binding_id=binding.pk, allowed_from=(from_state,), to_state=to_state, actor="test"
        )
    binding.refresh_from_db()
    assert binding.state == from_state and not binding.transitions.exists()


def test_a_move_records_history_and_load(igw_account):
    binding = BindingFactory(vendor_account=igw_account)
    moved = transitions.transition(
        binding_id=binding.pk, allowed_from=(S.ACTIVE,), to_state=S.EXPIRED, actor="beat"
    )
    assert moved.state == S.EXPIRED and moved.ended_at is not None
    row = moved.transitions.get()
    assert (row.from_state, row.to_state, row.actor_label) == ("active", "expired", "beat")
    assert binding.x_number.privacy_load.live == 0


def test_a_binding_no_longer_in_the_expected_state_is_left_alone(igw_account):
    binding = BindingFactory(vendor_account=igw_account, state=S.RELEASED)
    assert (
        transitions.transition(
            binding_id=binding.pk, allowed_from=(S.ACTIVE,), to_state=S.EXPIRED, actor="beat"
        )
        is None
    )
