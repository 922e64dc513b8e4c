"""Celery tasks for sends. Thin: each passes an id to the messaging service it is
named after; messaging.sending explains the retry rules. Beat entries (settings):

    messaging.tasks.limit_windows_prune     every hour (database limiter only)
    messaging.tasks.sends_resolve_stuck     every 5 minutes

Send tasks, each named after its service: message_send, two_way_call_send,
voice_code_send.
"""

from celery import shared_task

from core import tasks as core_tasks
from messaging.sending import MAX_TASK_RETRIES, RetryLater


def run_with_retries(task, service, pk: int) -> None:
    """Call the send `service` for row `pk`; on RetryLater retry the task (core.tasks)."""
    core_tasks.run_with_retries(task, lambda final: service(pk=pk, final_attempt=final), RetryLater)


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
