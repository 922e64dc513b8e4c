"""Normalization (callbacks/normalize.py) through the webhook: duplicates are
acknowledged and stored once, records and events arrive in any order."""

import random
from collections import Counter
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlencode

import pytest

from callbacks import normalize, queue, services
from callbacks.models import CallEvent, CallRecord, Delivery
from tests.factories import BindingFactory, VendorAccountFactory
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
    url_for,
)

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


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


# ------------------------------------------------------------------ batches


def _queue(client, account, kind, fields):
    """Acknowledged and queued, not normalized (the post_* helpers normalize)."""
    response = client.post(url_for(account, kind), urlencode(fields), FORM)
    assert response.status_code == 200


def _deliveries_of(account, calls: int, seed: int) -> list[tuple[str, dict]]:
    """Every call's CDR three times and its call-start event three times (one of
    them a second event, earlier than the CDR's begin), shuffled."""
    deliveries = []
    for n in range(calls):
        taskid = f"task-{n}"
        cdr = igw_cdr(account, taskid=taskid, caller=f"138{n:08d}")
        early = igw_call_start(
            account, taskid=taskid, callTime=str(BEGIN - 5), caller="13700000000"
        )
        late = igw_call_start(account, taskid=taskid, callTime=str(BEGIN + 1))
        deliveries += [("cdr", cdr)] * 3 + [("call-start", early)] * 2 + [("call-start", late)]
    random.Random(seed).shuffle(deliveries)
    return deliveries


def test_500_cdrs_three_times_out_of_order_with_events_through_the_batches(client, igw_account):
    for kind, fields in _deliveries_of(igw_account, 500, seed=13):
        _queue(client, igw_account, kind, fields)
    with mock.patch.object(queue, "apply_delivery", side_effect=AssertionError("one by one")):
        assert services.deliveries_normalize_all(budget_seconds=600) == 3000
    assert CallRecord.objects.count() == 500
    assert CallRecord.objects.filter(has_cdr=True).count() == 500
    assert CallEvent.objects.count() == 1000  # two distinct events per call, once each
    outcomes = Counter(Delivery.objects.values_list("outcome", flat=True))
    # Per call: the first CDR and the first copy of each event stored something.
    assert outcomes == {"accepted": 1500, "duplicate": 1500}
    record = CallRecord.objects.get(call_id="task-7")
    assert record.caller == "+8613800000007"  # the CDR's, whatever came first
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)


def _state(account) -> list[tuple]:
    skip = {"id", "vendor_account", "first_seen_at", "updated_at", "cdr_received_at"}
    names = [f.attname for f in CallRecord._meta.concrete_fields if f.name not in skip]
    records = list(CallRecord.objects.filter(vendor_account=account).order_by("call_id"))
    events = CallEvent.objects.filter(call_record__vendor_account=account)
    return [
        [tuple(getattr(r, n) for n in names) for r in records],
        sorted(events.values_list("call_record__call_id", "kind", "occurred_at", "caller")),
    ]


def test_a_batch_stores_what_delivery_by_delivery_stores(client, igw_account):
    other = VendorAccountFactory(vendor="igw", account_id="10000000", app_id=igw_account.app_id)
    BindingFactory(vendor_account=igw_account, vendor_binding_id="sub-1")
    BindingFactory(vendor_account=other, vendor_binding_id="sub-1")
    for account in (igw_account, other):
        for kind, fields in _deliveries_of(account, 40, seed=5):
            _queue(client, account, kind, fields)
        if account == other:  # one by one, under savepoints: the per-delivery path
            while queue._normalize_batch(1, isolated=True):
                pass
        else:
            with mock.patch.object(queue, "apply_delivery", side_effect=AssertionError):
                services.deliveries_normalize_all()
    batched, one_by_one = _state(igw_account), _state(other)
    assert len(batched[0]) == 40 and len(batched[1]) == 80
    binding_ids = {r.binding_id for r in CallRecord.objects.all()}
    assert None not in binding_ids and len(binding_ids) == 2
    strip = [row[:2] + row[3:] for row in batched[0]]  # binding ids differ per account
    assert strip == [row[:2] + row[3:] for row in one_by_one[0]]
    assert batched[1] == one_by_one[1]


def test_a_call_stored_meanwhile_by_another_batch_is_merged_not_doubled(client, igw_account):
    _queue(client, igw_account, "cdr", igw_cdr(igw_account))
    stored_meanwhile = CallRecord.objects.create(
        vendor_account=igw_account, vendor="igw", call_id="task-1", caller="+8613700000000"
    )
    # The batch's lock finds nothing (the other transaction had not committed yet).
    with mock.patch.object(normalize, "_locked_calls", return_value={}):
        assert services.deliveries_normalize() == 1
    record = CallRecord.objects.get()
    assert record.pk == stored_meanwhile.pk and record.has_cdr
    assert Delivery.objects.get().outcome == Delivery.Outcome.ACCEPTED
