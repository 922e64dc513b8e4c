"""Filter sets of the accounts lists, each shared by its page and its API."""

import django_filters

from accounts.models import PrivacyNumber, VendorAccount, vendor_choices
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
