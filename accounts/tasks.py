"""Celery tasks for vendor accounts: thin wrappers over accounts.services, each named
after the service it runs."""

from celery import shared_task


@shared_task(acks_late=True)
def vendor_account_check_status(account_id: int) -> None:
    from accounts import services
    from accounts.models import VendorAccount

    account = VendorAccount.objects.filter(pk=account_id).first()
    if account is not None:
        services.vendor_account_check_status(account=account)
