"""Reads for vendor accounts and the number pool."""

from django.conf import settings
from django.db.models import QuerySet

import vendors
from accounts.models import PrivacyNumber, VendorAccount


def webhook_urls(*, account: VendorAccount) -> dict[str, str]:
    """The full callback URL of each callback kind the vendor has, keyed by kind."""
    kinds = vendors.REGISTRY[account.vendor].callback_kinds
    base = settings.PUBLIC_BASE_URL
    return {kind: f"{base}/callbacks/{account.webhook_token}/{kind}/" for kind in kinds}


def vendor_client(*, account: VendorAccount, **kwargs) -> vendors.VendorClient:
    """A vendors/ client holding this account's credentials."""
    return vendors.get_client(
        account.vendor,
        base_url=account.base_url,
        account_id=account.account_id,
        secret=account.secret,
        app_id=account.app_id,
        extra=dict(account.extra),
        **kwargs,
    )


def vendor_account_list(*, filters: dict | None = None) -> QuerySet[VendorAccount]:
    filters = filters or {}
    qs = VendorAccount.objects.all()
    if filters.get("vendor"):
        qs = qs.filter(vendor=filters["vendor"])
    if filters.get("enabled") in ("true", "false"):
        qs = qs.filter(enabled=filters["enabled"] == "true")
    if filters.get("q"):
        qs = qs.filter(name__icontains=filters["q"])
    return qs


def number_list(*, filters: dict | None = None) -> QuerySet[PrivacyNumber]:
    filters = filters or {}
    qs = PrivacyNumber.objects.select_related("vendor_account")
    if filters.get("vendor_account"):
        qs = qs.filter(vendor_account_id=filters["vendor_account"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("area_code"):
        qs = qs.filter(area_code=filters["area_code"])
    if filters.get("q"):
        digits = "".join(ch for ch in filters["q"] if ch.isdigit())
        qs = qs.filter(number__contains=digits) if digits else qs.none()
    return qs
