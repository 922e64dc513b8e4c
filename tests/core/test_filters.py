"""core.filters.list_or_errors: the one way a list page turns bad filters into errors."""

import pytest
from django.urls import reverse

from accounts import selectors
from accounts.models import VendorAccount
from core.filters import list_or_errors
from tests.factories import VendorAccountFactory


def test_list_or_errors_returns_rows_and_no_errors(db):
    account = VendorAccountFactory()
    rows, errors = list_or_errors(selectors.vendor_account_list, VendorAccount, filters={})
    assert list(rows) == [account]
    assert errors == []


def test_list_or_errors_turns_field_errors_into_lines_over_no_rows(db):
    VendorAccountFactory()
    rows, errors = list_or_errors(
        selectors.vendor_account_list, VendorAccount, filters={"vendor": "no-such-vendor"}
    )
    assert list(rows) == []
    assert len(errors) == 1 and errors[0].startswith("vendor: ")


@pytest.mark.parametrize(
    ("url_name", "params", "field"),
    [
        ("accounts:vendor_account_list", {"vendor": "nope"}, "vendor"),
        ("accounts:number_list", {"vendor_account": "x"}, "vendor_account"),
        ("callbacks:call_record_list", {"date_from": "garbage"}, "date_from"),
        ("callbacks:delivery_list", {"outcome": "nope"}, "outcome"),
        ("privacy:binding_list", {"state": "nope"}, "state"),
        ("sandbox:index", {"vendor": "nope"}, "vendor"),
    ],
)
def test_every_list_page_shows_bad_filters_over_an_empty_table(
    admin_client, url_name, params, field
):
    response = admin_client.get(reverse(url_name), params)
    assert response.status_code == 200
    assert [line.split(":")[0] for line in response.context["filter_errors"]] == [field]
