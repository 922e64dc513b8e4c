"""Celery tasks for bindings. Thin: each passes an id to a privacy.services function.

A bind or release is recorded in the outbox (core/outbox.py) in the transaction that
writes the pending/releasing binding; the task claims that record's lease before
the vendor call, so a lost message or a killed worker delays the work until the
dispatcher publishes it again, and a redo reuses the binding's idempotency key (igw
reqid; a cyj bind, which has none, is never repeated: privacy.services). The row is
deleted in the transaction that moves the binding out of pending/releasing
(privacy.transitions). Beat entry (wired in settings):

    privacy.tasks.bindings_expire_due          every 60 s
"""

from celery import shared_task

from core import outbox

MAX_TASK_RETRIES = 4
BIND_TASK = "privacy.tasks.binding_bind_at_vendor"
RELEASE_TASK = "privacy.tasks.binding_release_at_vendor"


def outbox_add(task_name: str, binding_id: int) -> None:
    """Record a task of this module for the binding in the current transaction, and
    publish it once that commits (core.outbox.add: the publish is only a doorbell)."""
    outbox.add(task=f"privacy.tasks.{task_name}", object_id=binding_id)


def _run(task, service, binding_id: int, state: str) -> None:
    """Claim the outbox row, call `service`; the work is settled once the binding has
    left `state` (whoever moved it)."""
    from privacy.models import Binding
    from privacy.services import RetryLater

    outbox.run(
        task,
        binding_id,
        lambda final: service(binding_id=binding_id, final_attempt=final),
        RetryLater,
        settled=outbox.left(Binding, binding_id, state),
    )


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name=BIND_TASK)
def binding_bind_at_vendor(self, binding_id: int) -> None:
    from privacy import services

    _run(self, services.binding_bind_at_vendor, binding_id, services.Binding.State.PENDING)


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name=RELEASE_TASK)
def binding_release_at_vendor(self, binding_id: int) -> None:
    from privacy import services

    _run(self, services.binding_release_at_vendor, binding_id, services.Binding.State.RELEASING)


@shared_task(name="privacy.tasks.bindings_expire_due")
def bindings_expire_due() -> int:
    from privacy import services

    expired = services.bindings_expire_due()
    # Also keep the allocator's load hint whole (new pool numbers, hand-made changes).
    services.xload_sync()
    return expired
