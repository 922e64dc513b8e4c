"""The inbox (callbacks/inbox.py) and its queue (callbacks/queue.py): an arrival is
acknowledged on its raw row and normalized after; whatever breaks, the raw row is
kept, and nothing is applied twice."""

from unittest import mock
from urllib.parse import urlencode

import pytest
from django.db import OperationalError

from callbacks import services
from callbacks.models import CallEvent, CallRecord, Delivery
from tests.payloads import (
    igw_call_start,
    igw_cdr,
    post_form,
    url_for,
)

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def _arrive(client, account, kind, fields):
    """A delivery acknowledged and queued, not normalized yet."""
    response = client.post(url_for(account, kind), urlencode(fields), FORM)
    assert response.status_code == 200
    return response


def test_an_arrival_is_acknowledged_on_its_raw_row_and_normalized_after(client, igw_account):
    _arrive(client, igw_account, "cdr", igw_cdr(igw_account))
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.RECEIVED and delivery.authenticated
    assert not CallRecord.objects.exists()
    assert services.deliveries_normalize() == 1
    delivery.refresh_from_db()
    assert delivery.outcome == Delivery.Outcome.ACCEPTED and delivery.processed_at
    assert delivery.call_ids == [CallRecord.objects.get().call_id]
    assert services.deliveries_normalize() == 0


def test_database_error_mid_normalization_writes_nothing_and_keeps_the_row(client, igw_account):
    from callbacks import normalize

    def exploding(real):
        def explode(*args, **kwargs):
            real(*args, **kwargs)  # the record and the event are written...
            raise OperationalError("server closed the connection unexpectedly")  # ...then this

        return explode

    _arrive(client, igw_account, "call-start", igw_call_start(igw_account))
    with (  # the batch, then its delivery-by-delivery retry
        mock.patch.object(normalize, "_batch_events", exploding(normalize._batch_events)),
        mock.patch.object(normalize, "_event_apply", exploding(normalize._event_apply)),
    ):
        services.deliveries_normalize()
    assert not CallRecord.objects.exists()
    assert not CallEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.FAILED_PROCESSING
    assert "OperationalError" in delivery.reason
    assert "Traceback" in delivery.traceback
    assert b"taskid=task-1" in bytes(delivery.body)

    # Once the database is back, a replay applies it; a vendor retry is a duplicate.
    assert services.delivery_replay(delivery=delivery).outcome == Delivery.Outcome.ACCEPTED
    post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert CallEvent.objects.count() == 1


def test_a_bug_fails_its_delivery_and_the_rest_of_the_batch_goes_on(client, igw_account):
    from callbacks import normalize

    def buggy(real):
        def apply(*args):
            if args[-2].call_id == "task-bad":  # the item
                raise KeyError("oops")
            return real(*args)

        return apply

    for taskid in ("task-1", "task-bad", "task-2"):
        _arrive(client, igw_account, "cdr", igw_cdr(igw_account, taskid=taskid))
    with (  # the batch fails, its delivery-by-delivery retry isolates the bad one
        mock.patch.object(normalize, "_batch_cdr", buggy(normalize._batch_cdr)),
        mock.patch.object(normalize, "_cdr_apply", buggy(normalize._cdr_apply)),
    ):
        assert services.deliveries_normalize() == 3
    outcomes = list(Delivery.objects.values_list("outcome", flat=True))
    assert sorted(CallRecord.objects.values_list("call_id", flat=True)) == ["task-1", "task-2"]
    assert outcomes.count(Delivery.Outcome.ACCEPTED) == 2
    failed = Delivery.objects.get(outcome=Delivery.Outcome.FAILED_PROCESSING)
    assert b"task-bad" in bytes(failed.body) and "KeyError" in failed.reason


def test_a_batch_that_fails_after_its_upserts_is_redone_not_doubled(client, igw_account):
    from callbacks import queue

    real, calls = queue._mark, []

    def fail_once(batch):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("connection reset")
        return real(batch)

    for taskid in ("task-1", "task-2"):
        _arrive(client, igw_account, "cdr", igw_cdr(igw_account, taskid=taskid))
    with mock.patch.object(queue, "_mark", fail_once):
        assert services.deliveries_normalize() == 2
    assert CallRecord.objects.count() == 2
    assert set(Delivery.objects.values_list("outcome", flat=True)) == {"accepted"}


def test_the_database_gone_for_the_whole_batch_leaves_it_queued(client, igw_account):
    from callbacks import queue

    _arrive(client, igw_account, "cdr", igw_cdr(igw_account))
    with (
        mock.patch.object(queue, "_mark", side_effect=OperationalError("gone")),
        pytest.raises(OperationalError),
    ):
        services.deliveries_normalize()
    assert not CallRecord.objects.exists()
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECEIVED
    assert services.deliveries_normalize() == 1
    assert CallRecord.objects.count() == 1


def test_database_down_before_the_raw_row_answers_503(client, igw_account):
    # The raw row is INSERTed by callbacks.hotsql.insert (was Delivery.objects.create).
    with mock.patch("callbacks.hotsql.insert", side_effect=OperationalError("down")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 503
    assert not CallRecord.objects.exists()


def test_database_down_even_for_the_failure_note(client, igw_account):
    """A bug while authenticating or parsing, and the database failing again when
    the failure is noted: the raw row stays received and the vendor retries."""
    from callbacks import inbox

    with (
        mock.patch("vendors.igw.IgwClient.authenticate_callback", side_effect=RuntimeError("bug")),
        mock.patch.object(inbox, "_finish", side_effect=OperationalError("gone")),
    ):
        response = client.post(url_for(igw_account, "cdr"), urlencode(igw_cdr(igw_account)), FORM)
    assert response.status_code == 500
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.RECEIVED and not delivery.authenticated
    assert services.deliveries_normalize() == 0  # not queued: it was never authenticated


@pytest.mark.django_db(transaction=True)
def test_a_worker_batch_commits_without_waiting_for_fsync(client, igw_account):
    """Its raw deliveries were committed durably: a batch lost in a crash is redone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from callbacks import inbox

    with mock.patch.object(inbox, "deliveries_normalize_soon"):  # no eager task on commit
        _arrive(client, igw_account, "cdr", igw_cdr(igw_account))
    with CaptureQueriesContext(connection) as queries:
        assert services.deliveries_normalize() == 1
    statements = [q["sql"] for q in queries.captured_queries]
    assert statements[:2] == ["BEGIN", "SET LOCAL synchronous_commit TO OFF"]
    assert CallRecord.objects.count() == 1
