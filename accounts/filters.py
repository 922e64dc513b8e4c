"""Filter sets of the accounts lists, each shared by its page and its API."""

import django_filters

from accounts.models import PrivacyNumber, SubAccount, VendorAccount, vendor_choices
from core import filters


class VendorAccountFilter(filters.ConsoleFilterSet):
    vendor = django_filters.ChoiceFilter(choices=vendor_choices)  # read per request
    enabled = django_filters.BooleanFilter()
    q = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=128, help_text="Part of the name."
    )

    class Meta:
        model = VendorAccount
        fields: list[str] = []


class NumberFilter(filters.ConsoleFilterSet):
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    status = django_filters.ChoiceFilter(choices=PrivacyNumber.Status.choices)
    area_code = django_filters.CharFilter(max_length=8)
    q = filters.NumberSearchFilter(
        number_fields=("number",),
        help_text="Digits of the number with accounts.view_full_numbers, "
        "otherwise a complete number (exact match).",
    )

    class Meta:
        model = PrivacyNumber
        fields: list[str] = []


class SubAccountFilter(filters.ConsoleFilterSet):
    vendor_account = filters.IdFilter(help_text="Vendor account id.")
    state = django_filters.ChoiceFilter(choices=SubAccount.State.choices)
    q = django_filters.CharFilter(
        field_name="friendly_name",
        lookup_expr="icontains",
        max_length=100,
        help_text="Part of the name.",
    )
    sid = django_filters.CharFilter(
        field_name="sub_account_sid", max_length=64, help_text="A whole subAccountSid."
    )

    class Meta:
        model = SubAccount
        fields: list[str] = []
