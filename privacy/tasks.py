"""Celery tasks for bindings. Thin: each passes an id to a privacy.services function.

Late ack is on project-wide (a worker killed mid-task leaves the message to be
redelivered); the services make a redo safe (igw reqid reuse; cyj attempts are
counted before the call). Beat entries (wired in settings):

    privacy.tasks.expire_bindings          every 60 s
    privacy.tasks.resolve_stuck_pending    every 5 minutes
"""

from celery import shared_task

MAX_TASK_RETRIES = 4


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name="privacy.tasks.bind_binding")
def bind_binding(self, binding_id: int) -> None:
    from privacy import services

    try:
        services.binding_bind_at_vendor(
            binding_id=binding_id, final_attempt=self.request.retries >= self.max_retries
        )
    except services.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc.error) from exc


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name="privacy.tasks.release_binding")
def release_binding(self, binding_id: int) -> None:
    from privacy import services

    try:
        services.binding_release_at_vendor(
            binding_id=binding_id, final_attempt=self.request.retries >= self.max_retries
        )
    except services.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc.error) from exc


@shared_task(name="privacy.tasks.expire_bindings")
def expire_bindings() -> int:
    from privacy import services

    return services.bindings_expire_due()


@shared_task(name="privacy.tasks.resolve_stuck_pending")
def resolve_stuck_pending() -> dict[str, int]:
    from privacy import services

    requeued, failed = services.bindings_resolve_stuck()
    return {"requeued": requeued, "failed": failed}
