"""The dashboard's vendor account balances card and its link to X-number health."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatusCheck
from tests.factories import VendorAccountFactory

URL = reverse("callbacks:dashboard")


@pytest.fixture
def accounts():
    now = timezone.now()
    igw = VendorAccountFactory(vendor="igw", name="igw-main")
    AccountStatusCheck.objects.create(
        vendor_account=igw, checked_at=now - timedelta(hours=3), state="active", balance="99.000"
    )
    AccountStatusCheck.objects.create(
        vendor_account=igw,
        checked_at=now - timedelta(hours=1),
        state="active",
        balance="12.500",
        overdraft="100.000",
    )
    failing = VendorAccountFactory(vendor="ccp", name="ccp-failing")
    AccountStatusCheck.objects.create(vendor_account=failing, checked_at=now, error="refused")
    return {
        "igw": igw,
        "failing": failing,
        "never": VendorAccountFactory(vendor="igw", name="igw-never"),
        "no_api": VendorAccountFactory(vendor="huawei", name="huawei-no-api"),
        "off": VendorAccountFactory(vendor="igw", name="igw-off", enabled=False),
    }


def _card(page: str) -> str:
    return page[page.index('id="table-balances"') :].split("</table>")[0]


@pytest.mark.django_db
def test_the_card_shows_each_accounts_latest_check(staff_client, accounts):
    card = _card(staff_client.get(URL).content.decode())
    assert "12.500" in card and "99.000" not in card and "100.000" in card
    latest = accounts["igw"].status_checks.first().checked_at
    assert f"{timezone.localtime(latest):%Y-%m-%d %H:%M}" in card  # the time of the last check
    assert "ccp-failing" in card and "check failed" in card and "refused" not in card
    assert "igw-never" in card and "not checked yet" in card
    assert "huawei-no-api" not in card and "igw-off" not in card
    # Staff cannot open vendor accounts: names only.
    assert reverse("accounts:vendor_account_detail", args=[accounts["igw"].pk]) not in card


@pytest.mark.django_db
def test_the_card_follows_the_chosen_account_and_links_for_operators(operator_client, accounts):
    page = operator_client.get(URL, {"vendor_account": accounts["igw"].pk}).content.decode()
    card = _card(page)
    assert "igw-main" in card and "ccp-failing" not in card
    assert reverse("accounts:vendor_account_detail", args=[accounts["igw"].pk]) in card
    health = reverse("callbacks:x_number_health")
    assert f'href="{health}?vendor_account={accounts["igw"].pk}"' in page
