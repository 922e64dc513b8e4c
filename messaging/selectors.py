"""Reads for messaging: filtered message lists, one message with its recipients, and
the accounts each kind of send may use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import SubAccount, VendorAccount
from core import filters as core_filters
from messaging import limits, sending
from messaging.filters import MessageFilter
from messaging.models import Message, MessageRecipient, SendPolicy

# The capabilities whose sends count against an account's limits.
SEND_CAPABILITIES = ("supports_sms", "supports_voice_codes")


def message_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[Message]:
    """Messages matching `filters` (messaging.filters.MessageFilter); raises
    ValidationError naming any unusable filter."""
    first = MessageRecipient.objects.filter(message=OuterRef("pk")).order_by("batch", "id")
    return core_filters.apply(
        MessageFilter,
        filters=filters,
        queryset=Message.objects.select_related("vendor_account").annotate(
            first_number=Subquery(first.values("number")[:1])
        ),
        user=user,
    )


def message_get(*, pk: int) -> Message:
    return Message.objects.select_related("vendor_account", "sub_account", "created_by").get(pk=pk)


def message_recipients(*, message: Message) -> QuerySet[MessageRecipient]:
    return message.recipients.order_by("batch", "id")


def sms_accounts() -> QuerySet[VendorAccount]:
    """Enabled accounts whose vendor sends SMS: the send forms' choices."""
    return sending.accounts_offering("supports_sms")


def sms_sub_accounts() -> QuerySet[SubAccount]:
    return SubAccount.objects.filter(vendor_account__in=sms_accounts()).select_related(
        "vendor_account"
    )


def policy_accounts() -> QuerySet[VendorAccount]:
    """Accounts whose vendor sends something messaging counts (SMS, voice codes)."""
    found = VendorAccount.objects.none()
    for capability in SEND_CAPABILITIES:
        found = found | sending.accounts_offering(capability)
    return found.distinct().order_by("name")


def policy_rows() -> list[tuple[VendorAccount, SendPolicy | None, limits.AccountLimits]]:
    """Each such account, its SendPolicy row (None: defaults) and the limits in force."""
    policies = {p.vendor_account_id: p for p in SendPolicy.objects.all()}
    return [
        (account, policies.get(account.pk), limits.limits_for(account))
        for account in policy_accounts()
    ]
