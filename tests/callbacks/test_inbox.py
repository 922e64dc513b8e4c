"""The inbox (callbacks/inbox.py) under failure: whatever breaks while a delivery
is processed, the raw row is kept and the vendor is told to retry."""

from unittest import mock

import pytest
from django.db import OperationalError

from callbacks.models import CallEvent, CallRecord, Delivery
from tests.payloads import (
    igw_call_start,
    igw_cdr,
    post_form,
)

pytestmark = pytest.mark.django_db


def test_database_error_mid_processing_answers_500_and_writes_nothing(client, igw_account):
    from callbacks import normalize

    real = normalize._event_apply

    def explode(*args, **kwargs):
        real(*args, **kwargs)  # the record and the event are written...
        raise OperationalError("server closed the connection unexpectedly")  # ...then this

    with mock.patch.object(normalize, "_event_apply", explode):
        response = post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert response.status_code == 500
    assert not CallRecord.objects.exists()
    assert not CallEvent.objects.exists()
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.FAILED_PROCESSING
    assert "OperationalError" in delivery.reason
    assert "Traceback" in delivery.traceback
    assert b"taskid=task-1" in bytes(delivery.body)

    # The vendor retries once the database is back: accepted, stored once.
    response = post_form(client, igw_account, "call-start", igw_call_start(igw_account))
    assert response.status_code == 200
    assert CallEvent.objects.count() == 1


def test_bug_in_processing_answers_500(client, igw_account):
    from callbacks import normalize

    with mock.patch.object(normalize, "_cdr_apply", side_effect=KeyError("oops")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 500
    assert Delivery.objects.get().outcome == Delivery.Outcome.FAILED_PROCESSING


def test_database_down_before_the_raw_row_answers_503(client, igw_account):
    # The raw row is INSERTed by callbacks.hotsql.insert (was Delivery.objects.create).
    with mock.patch("callbacks.hotsql.insert", side_effect=OperationalError("down")):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 503
    assert not CallRecord.objects.exists()


def test_database_down_even_for_the_failure_note(client, igw_account):
    from callbacks import inbox, normalize

    with (
        mock.patch.object(normalize, "_cdr_apply", side_effect=OperationalError("gone")),
        mock.patch.object(inbox, "_finish", side_effect=OperationalError("gone")),
    ):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 500
    assert Delivery.objects.get().outcome == Delivery.Outcome.RECEIVED
