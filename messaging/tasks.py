"""Celery tasks for sends. Thin: each passes an id to the messaging service it is
named after, under the claim of its outbox row (core/outbox.py); messaging.sending
explains the retry rules. Beat entry (settings):

    messaging.tasks.limit_windows_prune     every hour (database limiter only)

Send tasks, each named after its service: message_send, two_way_call_send,
voice_code_send.
"""

from celery import shared_task

from core import outbox
from messaging.models import SendState
from messaging.sending import KINDS, MAX_TASK_RETRIES, RetryLater


def run_with_retries(task, service, pk: int) -> None:
    """Claim the send's outbox row and call `service` for row `pk`; a RetryLater waits
    in the outbox (core.outbox.run). Settled once the send is no longer pending."""
    model = KINDS[task.name].model
    outbox.run(
        task,
        pk,
        lambda final: service(pk=pk, final_attempt=final),
        RetryLater,
        settled=outbox.left(model, pk, SendState.PENDING),
    )


@shared_task(name="messaging.tasks.limit_windows_prune")
def limit_windows_prune() -> int:
    from messaging import limits

    return limits.prune_windows()


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, name="messaging.tasks.message_send")
def message_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.message_send, pk)


@shared_task(bind=True, name="messaging.tasks.two_way_call_send", max_retries=MAX_TASK_RETRIES)
def two_way_call_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.two_way_call_send, pk)


@shared_task(bind=True, name="messaging.tasks.voice_code_send", max_retries=MAX_TASK_RETRIES)
def voice_code_send(self, pk: int) -> None:
    from messaging import services

    run_with_retries(self, services.voice_code_send, pk)
