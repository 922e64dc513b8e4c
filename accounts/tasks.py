"""Celery tasks for vendor accounts: thin wrappers over accounts.services."""

from celery import shared_task


@shared_task(acks_late=True)
def check_vendor_account(account_id: int) -> None:
    from accounts.models import VendorAccount
    from accounts.services import vendor_account_check_status

    account = VendorAccount.objects.filter(pk=account_id).first()
    if account is not None:
        vendor_account_check_status(account=account)
