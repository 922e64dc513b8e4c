"""The webhook hot path: the ack on one INSERT of the raw row, the batch that
normalizes it after, their failure modes, their SQL (callbacks/hotsql.py) and what
they must not cache."""

from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.db import OperationalError

from callbacks import hotsql, inbox, services, text
from callbacks.models import CallEvent, CallRecord, Delivery
from tests.factories import BindingFactory
from tests.payloads import (
    BEGIN,
    cyj_cdr,
    igw_call_start,
    igw_cdr,
    post_form,
    post_json,
    url_for,
)

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def _fail_once(real, exc):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    return wrapper


def test_database_error_on_the_record_insert_fails_the_delivery_not_the_ack(client, igw_account):
    response = client.post(
        url_for(igw_account, "call-start"), urlencode(igw_call_start(igw_account)), FORM
    )
    assert response.status_code == 200
    with (
        mock.patch.object(hotsql, "insert_many", side_effect=OperationalError("boom")),
        mock.patch.object(hotsql, "insert_ignore", side_effect=OperationalError("boom")),
    ):
        services.deliveries_normalize()
    assert not CallRecord.objects.exists() and not CallEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.FAILED_PROCESSING
    assert "OperationalError: boom" in delivery.reason
    assert delivery.authenticated  # replays will not re-check it
    assert services.delivery_replay(delivery=delivery).outcome == Delivery.Outcome.ACCEPTED


def test_database_down_for_the_fallback_too_answers_503(client, igw_account):
    with (
        mock.patch.object(hotsql, "insert_ignore", side_effect=OperationalError("down")),
        mock.patch.object(hotsql, "insert", side_effect=OperationalError("down")),
    ):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 503
    assert not Delivery.objects.exists() and not CallRecord.objects.exists()


def test_rejection_with_the_database_down_answers_503(client, igw_account):
    with mock.patch.object(inbox, "_store", side_effect=OperationalError("down")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account, devid="1"))
    assert response.status_code == 503


def test_bug_in_the_parser_keeps_the_raw_row(client, igw_account):
    with mock.patch("vendors.igw.IgwClient.parse_callback", side_effect=RuntimeError("bug")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 500
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.FAILED_PROCESSING
    assert "RuntimeError: bug" in delivery.reason
    assert services.delivery_replay(delivery=delivery).outcome == Delivery.Outcome.ACCEPTED
    assert CallRecord.objects.get().call_id == "task-1"


def test_an_accepted_cdr_is_acknowledged_on_one_insert(client, igw_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url_for(igw_account, "cdr"), urlencode(igw_cdr(igw_account)), FORM)
    assert response.status_code == 200
    # The account by its token, then the raw row: the ack waits for nothing else.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "INSERT"]
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECEIVED


def test_a_batch_of_cdrs_is_one_transaction(client, igw_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(3):
        fields = igw_cdr(igw_account, taskid=f"task-{n}")
        client.post(url_for(igw_account, "cdr"), urlencode(fields), FORM)
    with CaptureQueriesContext(connection) as queries:
        assert services.deliveries_normalize() == 3
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # Under the test's outer transaction, BEGIN/COMMIT show as SAVEPOINT/RELEASE:
    # claim the batch, lock the calls already stored, resolve the bindings, one
    # multi-row INSERT of the records, one UPDATE marking the deliveries.
    assert statements == ["SAVEPOINT", "SELECT", "SELECT", "SELECT", "INSERT", "UPDATE", "RELEASE"]
    assert "SKIP LOCKED" in queries.captured_queries[1]["sql"]
    assert "FOR UPDATE" in queries.captured_queries[2]["sql"]
    assert "ON CONFLICT" in queries.captured_queries[4]["sql"]
    assert CallRecord.objects.count() == 3
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"accepted"}


def test_rejection_is_one_insert(client, igw_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fields = igw_cdr(igw_account, appid="x")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url_for(igw_account, "cdr"), urlencode(fields), FORM)
    assert response.status_code == 401
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "INSERT"]
    assert Delivery.objects.get().outcome == Delivery.Outcome.REJECTED_AUTH


def test_a_regenerated_token_takes_effect_at_once(client, igw_account):
    old_url = url_for(igw_account, "cdr")
    assert post_form(client, igw_account, "cdr", igw_cdr(igw_account)).status_code == 200
    igw_account.webhook_token = "regenerated-token"
    igw_account.save()
    response = client.post(old_url, data="a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 404
    fields = igw_cdr(igw_account, taskid="task-2")
    assert post_form(client, igw_account, "cdr", fields).status_code == 200


def test_a_changed_account_id_takes_effect_at_once(client, igw_account):
    assert post_form(client, igw_account, "cdr", igw_cdr(igw_account)).status_code == 200
    igw_account.account_id = "20000000"
    igw_account.save()
    fields = igw_cdr(igw_account, taskid="task-2", devid="10000000")
    assert post_form(client, igw_account, "cdr", fields).status_code == 401


def test_account_by_token_matches_the_orm(igw_account):
    from accounts.models import VendorAccount

    igw_account.extra = {"callback_ip_allowlist": ["10.0.0.0/8"]}
    igw_account.save()
    fast = hotsql.account_by_token(igw_account.webhook_token)
    orm = VendorAccount.objects.get(pk=igw_account.pk)
    for field in VendorAccount._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(orm, field.attname), field.name
    assert fast.secret == igw_account.secret  # decrypted
    assert not fast._state.adding
    assert hotsql.account_by_token("nope") is None


def test_cdr_merging_into_an_event_record_finds_the_binding(client, igw_account):
    from privacy.models import Binding

    post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert CallRecord.objects.get().binding is None  # no binding known yet
    binding = BindingFactory(
        x_number=None,
        kind="axb",
        vendor_account=igw_account,
        a_number="+8613800138000",
        b_number="+8613900139000",
        ttl=600,
        vendor_binding_id="sub-1",
        state="active",
    )
    Binding.objects.filter(pk=binding.pk).update(created_at=datetime(2023, 1, 1, tzinfo=UTC))
    assert post_form(client, igw_account, "cdr", igw_cdr(igw_account)).status_code == 200
    record = CallRecord.objects.get()
    assert record.binding == binding and record.has_cdr
    assert record.begin_at == datetime.fromtimestamp(BEGIN, UTC)


def test_only_a_later_binding_is_still_linked(client, cyj_account):
    later = BindingFactory(
        x_number=None,
        kind="cyj",
        vendor_account=cyj_account,
        a_number="+8618326000000",
        b_number="+8618516000000",
        ttl=600,
        vendor_binding_id="17118230000",
        state="active",
    )  # created now, after the 2024-01-01 call
    post_json(client, cyj_account, "cdr", cyj_cdr(cyj_account))
    assert CallRecord.objects.get().binding == later


def test_phone_normalization_cache_keeps_invalid_numbers_raw():
    text._normalized.cache_clear()
    assert text._number(" 13800138000 ") == "+8613800138000"
    assert text._number("13800138000") == "+8613800138000"
    assert text._number("+86138****0022") == "+86138****0022"
    assert text._normalized.cache_info().hits == 1


@pytest.mark.parametrize("subid", ["", "platform-task-id"])
def test_xa_calls_link_to_the_xa_binding_on_their_x(client, igw_account, subid):
    """igw opens XA transfers without a subid: their calls are matched by X and time."""
    from accounts.models import PrivacyNumber
    from privacy.models import Binding

    x = PrivacyNumber.objects.create(number="+8617012345678", vendor_account=igw_account)
    other_x = PrivacyNumber.objects.create(number="+8617012345679", vendor_account=igw_account)

    def xa(number, created, state="released"):
        binding = BindingFactory(
            vendor_binding_id="",
            b_number="",
            kind="xa",
            vendor_account=igw_account,
            x_number=number,
            a_number="+8613800138000",
            ttl=0,
            state=state,
        )
        Binding.objects.filter(pk=binding.pk).update(created_at=created)
        return binding

    older = xa(x, datetime(2023, 1, 1, tzinfo=UTC))
    current = xa(x, datetime(2023, 6, 1, tzinfo=UTC), state="active")
    xa(x, datetime(2099, 1, 1, tzinfo=UTC))  # created after the call: not it
    xa(other_x, datetime(2023, 7, 1, tzinfo=UTC), state="active")  # another X: not it
    assert (
        post_form(client, igw_account, "cdr", igw_cdr(igw_account, subid=subid)).status_code == 200
    )
    record = CallRecord.objects.get()
    assert record.binding == current and record.binding != older


def test_an_axb_subid_wins_over_an_xa_on_the_same_x(client, igw_account):
    from accounts.models import PrivacyNumber
    from privacy.models import Binding

    x = PrivacyNumber.objects.create(number="+8617012345678", vendor_account=igw_account)
    common = {"vendor_account": igw_account, "x_number": x, "state": "released"}
    # An ended XA on the same X, created before the call too: the subid decides.
    xa = BindingFactory(
        vendor_binding_id="", b_number="", kind="xa", ttl=0, a_number="+8613700137000", **common
    )
    Binding.objects.filter(pk=xa.pk).update(created_at=datetime(2023, 1, 1, tzinfo=UTC))
    axb = BindingFactory(
        kind="axb",
        ttl=600,
        a_number="+8613800138000",
        b_number="+8613900139000",
        vendor_binding_id="sub-1",
        **common,
    )
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert CallRecord.objects.get().binding == axb


def test_a_known_account_costs_no_statement_of_its_own(client, igw_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    post_form(client, igw_account, "cdr", igw_cdr(igw_account))  # read once
    fields = igw_cdr(igw_account, taskid="task-2")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url_for(igw_account, "cdr"), urlencode(fields), FORM)
    assert response.status_code == 200
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    assert "md5" in queries.captured_queries[0]["sql"]  # ...stored only if it is unchanged


def test_an_account_changed_behind_the_orm_takes_effect_at_once(client, igw_account):
    """An UPDATE that bypasses save() (no updated_at) still changes the row's md5."""
    from accounts.models import VendorAccount

    assert post_form(client, igw_account, "cdr", igw_cdr(igw_account)).status_code == 200
    VendorAccount.objects.filter(pk=igw_account.pk).update(account_id="20000000")
    fields = igw_cdr(igw_account, taskid="task-2", devid="10000000")
    assert post_form(client, igw_account, "cdr", fields).status_code == 401
    assert Delivery.objects.filter(outcome=Delivery.Outcome.REJECTED_AUTH).count() == 1


def test_update_many_writes_what_bulk_update_writes(client, igw_account):
    for n in range(3):
        _arrive_only(client, igw_account, f"task-{n}")
    rows = list(Delivery.objects.order_by("id"))
    rows[0].set_outcome(Delivery.Outcome.ACCEPTED, call_ids=["task-0"])
    rows[1].set_outcome(Delivery.Outcome.FAILED_PROCESSING, reason="it's \\ 'quoted'", call_ids=[])
    rows[2].processed_at = None
    hotsql.update_many(rows, ["outcome", "reason", "call_ids", "processed_at"])
    stored = list(Delivery.objects.order_by("id"))
    for row, again in zip(rows, stored, strict=True):
        assert (again.outcome, again.reason, again.call_ids, again.processed_at) == (
            row.outcome,
            row.reason,
            row.call_ids,
            row.processed_at,
        )


def _arrive_only(client, account, taskid):
    fields = igw_cdr(account, taskid=taskid)
    assert client.post(url_for(account, "cdr"), urlencode(fields), FORM).status_code == 200
