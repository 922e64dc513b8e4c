"""Celery tasks for bindings. Thin: each passes an id to a privacy.services function.

Late ack is on project-wide (a worker killed mid-task leaves the message to be
redelivered); the services make a redo safe (igw reqid reuse; cyj attempts are
counted before the call). Beat entries (wired in settings):

    privacy.tasks.bindings_expire_due          every 60 s
    privacy.tasks.bindings_resolve_stuck    every 5 minutes
"""

from celery import shared_task
from django.db import transaction

from core.tasks import run_with_retries

MAX_TASK_RETRIES = 4


def send_on_commit(task_name: str, binding_id: int) -> None:
    """Send a task of this module once the surrounding transaction commits.

    robust=True: a broker outage (or, with eager tasks as in the tests, a crash
    inside the task) must not turn an already committed write into a 500; the row
    stays pending/releasing and bindings_resolve_stuck sends it again.
    """
    task = globals()[task_name]
    transaction.on_commit(lambda: task.delay(binding_id), robust=True)


def _run_with_retries(task, service, binding_id: int) -> None:
    """Call `service` for the binding; on RetryLater retry the task (core.tasks)."""
    from privacy.services import RetryLater

    run_with_retries(
        task, lambda final: service(binding_id=binding_id, final_attempt=final), RetryLater
    )


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name="privacy.tasks.binding_bind_at_vendor")
def binding_bind_at_vendor(self, binding_id: int) -> None:
    from privacy import services

    _run_with_retries(self, services.binding_bind_at_vendor, binding_id)


@shared_task(
    bind=True, max_retries=MAX_TASK_RETRIES, name="privacy.tasks.binding_release_at_vendor"
)
def binding_release_at_vendor(self, binding_id: int) -> None:
    from privacy import services

    _run_with_retries(self, services.binding_release_at_vendor, binding_id)


@shared_task(name="privacy.tasks.bindings_expire_due")
def bindings_expire_due() -> int:
    from privacy import services

    expired = services.bindings_expire_due()
    # Also keep the allocator's load hint whole (new pool numbers, hand-made changes).
    services.xload_sync()
    return expired


@shared_task(name="privacy.tasks.bindings_resolve_stuck")
def bindings_resolve_stuck() -> dict[str, int]:
    from privacy import services

    requeued, failed = services.bindings_resolve_stuck()
    return {"requeued": requeued, "failed": failed}
