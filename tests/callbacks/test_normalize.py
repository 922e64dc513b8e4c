"""Normalization (callbacks/normalize.py) through the webhook: duplicates are
acknowledged and stored once, records and events arrive in any order."""

from datetime import UTC, datetime

import pytest

from callbacks.models import CallEvent, CallRecord, Delivery
from tests.payloads import (
    BEGIN,
    ccp_hangup,
    huawei_fee,
    huawei_status,
    igw_call_start,
    igw_cdr,
    post_ccp,
    post_form,
    post_huawei,
)

pytestmark = pytest.mark.django_db


def test_duplicate_cdr_is_acknowledged_and_stored_once(client, igw_account):
    fields = igw_cdr(igw_account)
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    assert post_form(client, igw_account, "cdr", fields).status_code == 200
    assert CallRecord.objects.count() == 1
    outcomes = list(Delivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


def test_a_second_different_cdr_does_not_overwrite_the_first(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, result="17", duration="0"))
    record = CallRecord.objects.get()
    assert (record.outcome, record.duration) == ("answered", 60)


def test_duplicate_event_is_stored_once(client, huawei_account):
    for _ in range(3):
        post_huawei(client, huawei_account, "status", huawei_status("answer"))
    assert CallEvent.objects.count() == 1
    assert list(Delivery.objects.order_by("id").values_list("outcome", flat=True)) == [
        "accepted",
        "duplicate",
        "duplicate",
    ]


def test_events_then_cdr(client, huawei_account):
    for event, ts in [("callout", "02:48:46"), ("alerting", "02:48:47"), ("answer", "02:49:12")]:
        post_huawei(client, huawei_account, "status", huawei_status(event, ts=f"2019-01-24 {ts}"))
    record = CallRecord.objects.get()
    assert not record.has_cdr
    post_huawei(client, huawei_account, "cdr", huawei_fee())
    post_huawei(
        client, huawei_account, "status", huawei_status("disconnect", ts="2019-01-24 02:49:23")
    )
    record.refresh_from_db()
    assert record.has_cdr and record.outcome == "answered"
    assert record.duration == 11
    assert record.release_at == datetime(2019, 1, 24, 2, 49, 23, tzinfo=UTC)
    assert record.events.count() == 4
    assert CallRecord.objects.count() == 1


def test_cdr_then_events_never_overwrite_the_cdr(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, caller="13800138000"))
    post_form(
        client,
        igw_account,
        "call-start",
        igw_call_start(igw_account, caller="13700137000", callTime=str(BEGIN - 100)),
    )
    record = CallRecord.objects.get()
    assert record.caller == "+8613800138000"
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)
    assert record.events.count() == 1


def test_cdr_completes_an_event_record_but_keeps_event_only_fields(client, ccp_account):
    """ccp CDRs carry no ring time; an event's ring time survives the CDR."""
    record = CallRecord.objects.create(
        vendor_account=ccp_account,
        vendor="ccp",
        call_id="call-sid-1",
        ring_at=datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC),
        call_at=datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC),
    )
    post_ccp(client, ccp_account, ccp_hangup())
    record.refresh_from_db()
    assert record.has_cdr
    assert record.ring_at == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
    assert record.call_at == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
