"""The messages list's one filter set: the page, the API and the selectors use it."""

from __future__ import annotations

import django_filters

from core import filters
from messaging.models import Message, MessageRecipient, SendState


class MessageFilter(filters.ConsoleFilterSet):
    state = django_filters.ChoiceFilter(choices=SendState.choices)
    kind = django_filters.ChoiceFilter(choices=Message.Kind.choices)
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    # A complete number only (any accepted form), for every user: a fragment would let
    # a user without view_full_numbers recover masked digits.
    recipient = filters.PhoneNumberFilter(
        method="filter_recipient", help_text="A recipient's complete number; exact match."
    )
    created_from = filters.MomentFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_to = filters.MomentFilter(
        field_name="created_at",
        lookup_expr="lte",
        end=True,
        help_text="Created at or before; a date includes that whole day.",
    )

    class Meta:
        model = Message
        fields: list[str] = []

    def filter_recipient(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(pk__in=MessageRecipient.objects.filter(number=value).values("message_id"))
