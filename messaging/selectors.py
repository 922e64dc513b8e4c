"""Reads for messaging: filtered message lists, one message with its recipients, and
the accounts each kind of send may use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from accounts.models import SubAccount, VendorAccount
from core import filters as core_filters
from messaging import sending
from messaging.filters import MessageFilter
from messaging.models import Message, MessageRecipient


def message_list(*, filters: Mapping[str, Any] | None = None, user=None) -> QuerySet[Message]:
    """Messages matching `filters` (messaging.filters.MessageFilter); raises
    ValidationError naming any unusable filter."""
    return core_filters.apply(
        MessageFilter,
        filters=filters,
        queryset=Message.objects.select_related("vendor_account"),
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
