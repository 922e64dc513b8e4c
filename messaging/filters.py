"""The filter sets of the messaging lists: one per list, shared by its page and its API
(state, vendor account, recipient, creation date). A recipient is searched by its
complete number, in any accepted form, matched exactly (core.filters' number rule)."""

from __future__ import annotations

import django_filters

from core import filters
from messaging.models import SendState, TwoWayCall, VoiceCode


class SendFilter(filters.ConsoleFilterSet):
    """What every send list filters on."""

    state = django_filters.ChoiceFilter(choices=SendState.choices)
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    date_from = filters.MomentFilter(
        field_name="created_at", lookup_expr="gte", help_text="Date or ISO 8601 datetime."
    )
    date_to = filters.MomentFilter(
        field_name="created_at",
        lookup_expr="lte",
        end=True,
        help_text="Date (inclusive) or ISO 8601 datetime.",
    )


class TwoWayCallFilter(SendFilter):
    recipient = filters.PhoneNumberFilter(
        method="filter_recipient",
        help_text="The caller (from) or callee (to) number, any accepted form; exact.",
    )

    class Meta:
        model = TwoWayCall
        fields: list[str] = []

    def filter_recipient(self, qs, name, value):
        from django.db.models import Q

        return qs.filter(Q(from_number=value) | Q(to_number=value))


class VoiceCodeFilter(SendFilter):
    recipient = filters.PhoneNumberFilter(
        field_name="callee_number", help_text="The called number, any accepted form; exact."
    )

    class Meta:
        model = VoiceCode
        fields: list[str] = []
