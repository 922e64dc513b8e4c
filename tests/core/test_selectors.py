"""The home page: each role sees what it came for, counted by cheap queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from callbacks.models import CallEvent, CallRecord, Delivery
from core import selectors
from privacy.models import Binding
from tests.factories import BindingFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
DAY = timedelta(hours=24)


def _tiles(tiles) -> dict[str, str]:
    return {t.label: t.value for t in tiles}


def _call(account, call_id: str, at: datetime, outcome: str = "answered", **fields):
    return CallRecord.objects.create(
        vendor_account=account,
        vendor=account.vendor,
        call_id=call_id,
        call_at=at,
        outcome=outcome,
        has_cdr=bool(outcome),
        **fields,
    )


def test_start_of_today_is_local_midnight():
    # 23:30 UTC on the 29th is already 07:30 on the 30th in Shanghai.
    at = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert selectors.start_of_today(at) == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


def test_operators_see_what_needs_attention(operator):
    account = VendorAccountFactory()
    BindingFactory(vendor_account=account, state="pending")
    BindingFactory(vendor_account=account, state="pending")
    failed = BindingFactory(vendor_account=account, state="failed")
    old_failure = BindingFactory(vendor_account=account, state="failed")
    BindingFactory(vendor_account=account)  # active: nothing to do
    Binding.objects.filter(pk=failed.pk).update(updated_at=NOW - timedelta(hours=2))
    Binding.objects.filter(pk=old_failure.pk).update(updated_at=NOW - 2 * DAY)
    for outcome, age in [
        ("rejected_auth", timedelta(hours=1)),
        ("failed_processing", timedelta(hours=3)),
        ("rejected_invalid", 2 * DAY),  # yesterday's news
        ("accepted", timedelta(hours=1)),
    ]:
        Delivery.objects.create(
            vendor_account=account,
            vendor="igw",
            kind="cdr",
            outcome=outcome,
            received_at=NOW - age,
            body=b"",
        )
    gap = _call(account, "gap", NOW - timedelta(hours=1), outcome="")
    CallRecord.objects.filter(pk=gap.pk).update(first_seen_at=NOW - timedelta(hours=1))
    CallEvent.objects.create(call_record=gap, kind="call_start", occurred_at=NOW)

    tiles = selectors.attention_tiles(user=operator, now=NOW)
    assert _tiles(tiles) == {
        "Bindings waiting for the vendor": "2",
        "Bindings failed (24 h)": "1",
        "Deliveries rejected or failed (24 h)": "2",
        "Calls missing their CDR": "1",
        "SMS failed (24 h)": "0",
        "Two-way calls failed (24 h)": "0",
        "Voice codes failed (24 h)": "0",
    }
    # Alerts are the non-zero counts (no send failed here).
    assert all(t.alert == (t.value != "0") for t in tiles)
    assert tiles[0].url == reverse("privacy:binding_list") + "?state=pending"


def test_business_staff_see_todays_calls_and_answer_rate(staff_user):
    account = VendorAccountFactory()
    morning = NOW - timedelta(hours=3)
    _call(account, "a", morning)
    _call(account, "b", morning, outcome="no_answer")
    _call(account, "c", morning, outcome="busy")
    _call(account, "d", morning, outcome="")  # no CDR yet: not counted as unanswered
    _call(account, "y", NOW - DAY)  # yesterday
    assert selectors.attention_tiles(user=staff_user, now=NOW) == []
    tiles = selectors.today_tiles(user=staff_user, now=NOW)
    assert _tiles(tiles) == {"SMS sent today": "0", "Calls today": "4", "Answered today": "33%"}
    assert tiles[1].url.endswith("?outcome=answered&date_from=2026-11-30")


def test_answer_rate_without_finished_calls_is_a_dash(staff_user):
    assert _tiles(selectors.today_tiles(user=staff_user, now=NOW)) == {
        "SMS sent today": "0",
        "Calls today": "0",
        "Answered today": "—",
    }


def test_home_page_per_role(client, operator, staff_user, nobody):
    client.force_login(staff_user)
    page = client.get("/").content.decode()
    assert "Calls today" in page and "Needs attention" not in page
    client.force_login(operator)
    page = client.get("/").content.decode()
    assert "Bindings waiting for the vendor" in page and "Calls missing their CDR" in page
    client.force_login(nobody)
    assert "no role yet" in client.get("/").content.decode()


def test_home_page_is_a_few_queries(client, operator, django_assert_max_num_queries):
    client.force_login(operator)
    with django_assert_max_num_queries(12):
        assert client.get("/").status_code == 200
