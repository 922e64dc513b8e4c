"""The filter sets of the messaging lists, one per list, each shared by its page, its
API and its selector: state, vendor account, creation date, and the recipient by its
complete number only (any accepted form), for every user: a fragment would let a user
without view_full_numbers recover masked digits."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from core import filters
from messaging.models import Message, MessageRecipient, SendState, TwoWayCall, VoiceCode


class SendFilter(filters.ConsoleFilterSet):
    """What every send list filters on."""

    state = django_filters.ChoiceFilter(choices=SendState.choices)
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    created_from = filters.MomentFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_to = filters.MomentFilter(
        field_name="created_at",
        lookup_expr="lte",
        end=True,
        help_text="Created at or before; a date includes that whole day.",
    )


class MessageFilter(SendFilter):
    kind = django_filters.ChoiceFilter(choices=Message.Kind.choices)
    recipient = filters.PhoneNumberFilter(
        method="filter_recipient", help_text="A recipient's complete number; exact match."
    )

    class Meta:
        model = Message
        fields: list[str] = []

    def filter_recipient(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(pk__in=MessageRecipient.objects.filter(number=value).values("message_id"))


class TwoWayCallFilter(SendFilter):
    recipient = filters.PhoneNumberFilter(
        method="filter_recipient",
        help_text="The caller (from) or callee (to) number, complete; exact match.",
    )

    class Meta:
        model = TwoWayCall
        fields: list[str] = []

    def filter_recipient(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(Q(from_number=value) | Q(to_number=value))


class VoiceCodeFilter(SendFilter):
    recipient = filters.PhoneNumberFilter(
        field_name="callee_number", help_text="The called number, complete; exact match."
    )

    class Meta:
        model = VoiceCode
        fields: list[str] = []
