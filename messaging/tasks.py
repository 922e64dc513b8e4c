"""Celery tasks for sends. Thin: each passes an id to the messaging service it is
named after; messaging.sending explains the retry rules. Beat entries (settings):

    messaging.tasks.limit_windows_prune     every hour (database limiter only)
    messaging.tasks.sends_resolve_stuck     every 5 minutes

Send tasks, each named after its service: message_send, two_way_call_send,
voice_code_send.
"""

from celery import shared_task

from messaging.sending import MAX_TASK_RETRIES, RetryLater


def run_with_retries(task, service, pk: int) -> None:
    """Call `service`; on RetryLater retry the task after the countdown it asks for.

    Eagerly (the tests' default) Celery cannot schedule a later retry, so the
    attempts run back to back.
    """
    retries = task.request.retries
    while True:
        try:
            service(pk=pk, final_attempt=retries >= task.max_retries)
            return
        except RetryLater as exc:
            if not task.request.is_eager:
                raise task.retry(countdown=exc.countdown, exc=exc.error) from exc
            retries += 1


@shared_task(name="messaging.tasks.limit_windows_prune")
def limit_windows_prune() -> int:
    from messaging import limits

    return limits.prune_windows()


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name="messaging.tasks.message_send")
def message_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.message_send, pk)


@shared_task(name="messaging.tasks.sends_resolve_stuck")
def sends_resolve_stuck() -> int:
    from messaging import services

    return services.sends_resolve_stuck()


@shared_task(bind=True, name="messaging.tasks.two_way_call_send", max_retries=MAX_TASK_RETRIES)
def two_way_call_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.two_way_call_send, pk)


@shared_task(bind=True, name="messaging.tasks.voice_code_send", max_retries=MAX_TASK_RETRIES)
def voice_code_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.voice_code_send, pk)
