"""The binding state machine: which moves are allowed, and the history row of each.

    pending ──► active ──► releasing ──► released
       │          │  │         │
       │          │  │         ├──► expired   (its ttl passed meanwhile)
       │          │  │         └──► active    (the vendor refused the release)
       │          │  └──► released          (kinds that release locally: cyj)
       │          └──► expired
       └──► failed

Every move goes through `transition`: it locks the row, moves it only if it is
still in one of the states the caller expects (so a redelivered task, the beat
and a user agree on who moved it first), keeps privacy.XLoad in step and writes
the BindingTransition, all in one transaction.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core import outbox
from privacy.allocation import load_add
from privacy.models import Binding, BindingTransition
from privacy.tasks import BIND_TASK, RELEASE_TASK

Actor = AbstractBaseUser | str | None

State = Binding.State
LIVE = list(Binding.LIVE_STATES)

# A state that waits for vendor work: the outbox task that does it.
OUTBOX_WORK = {State.PENDING: BIND_TASK, State.RELEASING: RELEASE_TASK}

# to_state: the states it may be entered from (the diagram above).
ALLOWED: dict[str, tuple[str, ...]] = {
    State.ACTIVE: (State.PENDING, State.RELEASING),
    State.RELEASING: (State.ACTIVE,),
    State.RELEASED: (State.ACTIVE, State.RELEASING),
    State.EXPIRED: (State.ACTIVE, State.RELEASING),
    State.FAILED: (State.PENDING,),
}


def actor_parts(actor: Actor) -> tuple[AbstractBaseUser | None, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    return actor, actor.get_username()


def record(binding: Binding, from_state: str, to_state: str, actor: Actor, reason: str) -> None:
    """Write the history row of a move (also of creation: from "" to pending)."""
    user, label = actor_parts(actor)
    BindingTransition.objects.create(
        binding=binding,
        from_state=from_state,
        to_state=to_state,
        actor=user,
        actor_label=label,
        reason=reason,
    )


def transition(
    *,
    binding_id: int,
    allowed_from: tuple[str, ...],
    to_state: str,
    actor: Actor,
    reason: str = "",
    **changes,
) -> Binding | None:
    """Move a binding to `to_state` if it is in one of `allowed_from`; else return None.

    The row lock makes concurrent workers (a redelivered task, the beat) agree:
    only the first one to move the row wins, the others see the new state.
    """
    if not set(allowed_from) <= set(ALLOWED[to_state]):
        raise ValueError(f"no move from {allowed_from} to {to_state}")
    with transaction.atomic():
        binding = Binding.objects.select_for_update().filter(pk=binding_id).first()
        if binding is None or binding.state not in allowed_from:
            return None
        previous, old_x = binding.state, binding.x_number_id
        binding.state = to_state
        for field, value in changes.items():
            setattr(binding, field, value)
        if to_state in Binding.FINAL_STATES and binding.ended_at is None:
            binding.ended_at = timezone.now()
        binding.save()
        if old_x and previous in LIVE:
            load_add(old_x, binding.vendor_account_id, -1)
        if binding.x_number_id and to_state in LIVE:
            load_add(binding.x_number_id, binding.vendor_account_id, +1)
        record(binding, previous, to_state, actor, reason)
        # The bind or release this state waited for is settled: its outbox row goes
        # in the same transaction (core/outbox.py), whoever moved the binding.
        work = OUTBOX_WORK.get(previous)
        if work is not None and previous != to_state:
            outbox.done(task=work, object_id=binding_id)
    return binding
