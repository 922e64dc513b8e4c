"""Celery tasks for vendor accounts and sub-accounts: thin wrappers over
accounts.services, each named after the service it runs. Beat entry (settings):

    accounts.tasks.sub_accounts_sync_all                 daily (SUB_ACCOUNT_SYNC_HOUR)
    accounts.tasks.vendor_accounts_check_status_all      every ACCOUNT_STATUS_CHECK_SECONDS
"""

from celery import shared_task
from django.db import transaction

from core import outbox

SUB_ACCOUNT_CREATE_TASK = "accounts.tasks.sub_account_create_at_vendor"


def send_on_commit(task_name: str, *args) -> None:
    """Send a task of this module once the surrounding transaction commits.

    robust=True: a broker outage must not turn a committed write into a 500. Only
    for work that is asked again anyway (syncs); a create is recorded in the outbox
    (`outbox_add`).
    """
    task = globals()[task_name]
    transaction.on_commit(lambda: task.delay(*args), robust=True)


def outbox_add(task_name: str, sub_account_id: int) -> None:
    """Record a create in the current transaction and publish it once that commits
    (core.outbox.add)."""
    outbox.add(task=f"accounts.tasks.{task_name}", object_id=sub_account_id)


@shared_task(acks_late=True)
def vendor_account_check_status(account_id: int) -> None:
    from accounts import services
    from accounts.models import VendorAccount

    account = VendorAccount.objects.filter(pk=account_id).first()
    if account is not None:
        services.vendor_account_check_status(account=account)


@shared_task(name="accounts.tasks.vendor_accounts_check_status_all", ignore_result=True)
def vendor_accounts_check_status_all() -> int:
    from django.conf import settings

    from accounts import services

    return services.vendor_accounts_check_status_all(keep_days=settings.ACCOUNT_STATUS_HISTORY_DAYS)


@shared_task(bind=True, name=SUB_ACCOUNT_CREATE_TASK)
def sub_account_create_at_vendor(self, sub_account_id: int) -> None:
    # No retries here: the vendor's create has no idempotency key (the service
    # looks the name up instead of calling create twice blindly). Recorded in the
    # outbox with the pending row: a lost message or a killed worker is redone.
    from accounts import services
    from accounts.models import SubAccount

    outbox.run(
        self,
        sub_account_id,
        lambda final: services.sub_account_create_at_vendor(sub_account_id=sub_account_id),
        settled=outbox.left(SubAccount, sub_account_id, SubAccount.State.PENDING),
    )


@shared_task(name="accounts.tasks.sub_accounts_sync")
def sub_accounts_sync(account_id: int) -> str:
    from django.core.exceptions import ValidationError

    from accounts import services
    from accounts.models import VendorAccount

    account = VendorAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "no such account"
    try:
        return str(services.sub_accounts_sync(vendor_account=account))
    except ValidationError as exc:  # disabled since it was queued: nothing to do
        return " ".join(exc.messages)


@shared_task(name="accounts.tasks.sub_accounts_sync_all")
def sub_accounts_sync_all() -> int:
    from accounts import services

    return services.sub_accounts_sync_all()
