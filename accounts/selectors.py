"""Reads for vendor accounts, sub-accounts and the number pool, and the one place
vendor clients and outbound host policies are built from an account."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

import vendors
from accounts.filters import NumberFilter, SubAccountFilter, VendorAccountFilter
from accounts.models import AccountStatusCheck, PrivacyNumber, SubAccount, VendorAccount
from core import filters as core_filters
from vendors.outbound import HostPolicy, guarded_session, parse_host_port

# Clients built only to authenticate and parse callbacks never make a request:
# one shared session that refuses every host saves a connection pool per webhook.
_OFFLINE_SESSION = guarded_session(HostPolicy())


def webhook_urls(*, account: VendorAccount) -> dict[str, str]:
    """The full callback URL of each callback kind the vendor has, keyed by kind."""
    kinds = getattr(vendors.REGISTRY.get(account.vendor), "callback_kinds", ())
    base = settings.PUBLIC_BASE_URL
    return {kind: f"{base}/callbacks/{account.webhook_token}/{kind}/" for kind in kinds}


def supports_account_status(*, account: VendorAccount) -> bool:
    """Whether the vendor publishes an account-status API (a fact of its client class)."""
    return getattr(vendors.REGISTRY.get(account.vendor), "supports_account_status", False)


def supports_sub_accounts(*, account: VendorAccount) -> bool:
    """Whether the vendor creates sub-accounts (a fact of its client class).  An
    account whose vendor is no longer registered offers nothing."""
    return getattr(vendors.REGISTRY.get(account.vendor), "supports_sub_accounts", False)


def private_allowlist() -> frozenset[tuple[str, int]]:
    """OUTBOUND_PRIVATE_ALLOWLIST as (host, port) pairs (validated at start-up)."""
    pairs = (parse_host_port(entry) for entry in settings.OUTBOUND_PRIVATE_ALLOWLIST)
    return frozenset((host, port) for host, port in pairs if port is not None)


def vendor_api_policy(*, account: VendorAccount) -> HostPolicy:
    return HostPolicy.for_vendor_api(
        base_url=account.base_url, private_allowlist=private_allowlist()
    )


def recording_policy(*, account: VendorAccount) -> HostPolicy:
    return HostPolicy.for_recordings(
        base_url=account.base_url,
        recording_hosts=(account.extra or {}).get("recording_hosts") or [],
        private_allowlist=private_allowlist(),
    )


def vendor_client(
    *, account: VendorAccount, offline: bool = False, **kwargs
) -> vendors.VendorClient:
    """A vendors/ client holding this account's credentials, whose every request
    passes the outbound host policy.  offline=True: for callbacks only, it can
    send nothing at all.  There is deliberately no way to pass another session."""
    session = _OFFLINE_SESSION if offline else guarded_session(vendor_api_policy(account=account))
    return vendors.get_client(
        account.vendor,
        base_url=account.base_url,
        account_id=account.account_id,
        secret=account.secret,
        app_id=account.app_id,
        extra=dict(account.extra),
        session=session,
        **kwargs,
    )


def vendor_account_list(
    *, filters: Mapping[str, Any] | None = None, user=None
) -> QuerySet[VendorAccount]:
    """Accounts matching `filters` (accounts.filters.VendorAccountFilter); raises
    ValidationError naming any unusable filter."""
    return core_filters.apply(
        VendorAccountFilter, filters=filters, queryset=VendorAccount.objects.all(), user=user
    )


def number_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[PrivacyNumber]:
    """Pool numbers matching `filters` (accounts.filters.NumberFilter) as `user` may
    search them; raises ValidationError naming any unusable filter."""
    return core_filters.apply(
        NumberFilter,
        filters=filters,
        queryset=PrivacyNumber.objects.select_related("vendor_account"),
        user=user,
    )


def sub_account_list(
    *, filters: Mapping[str, Any] | None = None, user=None
) -> QuerySet[SubAccount]:
    """Sub-accounts matching `filters` (accounts.filters.SubAccountFilter); raises
    ValidationError naming any unusable filter."""
    return core_filters.apply(
        SubAccountFilter,
        filters=filters,
        queryset=SubAccount.objects.select_related("vendor_account"),
        user=user,
    )


def sub_accounts_usable(*, vendor_account: VendorAccount) -> QuerySet[SubAccount]:
    """The account's sub-accounts a send may use: active, with a sid and a token from
    the vendor, of an enabled account (none otherwise). Oldest first, so a caller
    taking `.first()` keeps using the same one."""
    if not vendor_account.enabled:
        return SubAccount.objects.none()
    return (
        SubAccount.objects.filter(vendor_account=vendor_account, state=SubAccount.State.ACTIVE)
        .exclude(sub_account_sid="")
        .exclude(sub_token="")
        .order_by("created_at", "id")
    )


def sub_accounts_pending(*, vendor_account: VendorAccount) -> bool:
    """Whether a create is still waiting for the vendor (the account page polls then)."""
    return vendor_account.sub_accounts.filter(state=SubAccount.State.PENDING).exists()


def account_status_history(*, account: VendorAccount, limit: int = 24) -> list[AccountStatusCheck]:
    """The account's latest status checks, newest first (the account page)."""
    return list(AccountStatusCheck.objects.filter(vendor_account=account)[:limit])


def account_balances(
    *, vendor_account_id: int | None = None
) -> list[tuple[VendorAccount, AccountStatusCheck | None]]:
    """Each enabled account whose vendor has a status API (or the one asked for) with
    its newest status check (None: never checked): the dashboard's balances card.
    One query per account, each a single row off the (account, -checked_at) index."""
    accounts = VendorAccount.objects.filter(enabled=True).order_by("name")
    if vendor_account_id is not None:
        accounts = accounts.filter(pk=vendor_account_id)
    return [
        (account, AccountStatusCheck.objects.filter(vendor_account=account).first())
        for account in accounts
        if supports_account_status(account=account)
    ]
