"""Task helpers shared by the apps' Celery tasks, and the outbox's dispatcher task.

Beat entry (settings):

    core.tasks.outbox_dispatch      every OUTBOX_DISPATCH_SECONDS (default 2)
"""

from collections.abc import Callable

from celery import shared_task


def run_with_retries(task, attempt: Callable[[bool], None], retry_later: type[Exception]) -> None:
    """Run `attempt(final_attempt)`; on `retry_later` (an exception carrying `countdown`
    and the vendor `error`) retry the task after the countdown it asks for.

    Eagerly (the tests' default, tests/conftest.py) Celery cannot schedule a later
    retry, so the attempts run back to back; the vendor client has already backed
    off inside each one. A real worker retries as production does.
    """
    retries = task.request.retries
    while True:
        try:
            attempt(retries >= task.max_retries)
            return
        except retry_later as exc:
            if not task.request.is_eager:
                raise task.retry(countdown=exc.countdown, exc=exc.error) from exc
            retries += 1


@shared_task(name="core.tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    """Publish the outbox rows that are due (core.outbox.dispatch); beat runs it
    every OUTBOX_DISPATCH_SECONDS."""
    from core import outbox

    return outbox.dispatch()
