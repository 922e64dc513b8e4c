"""messaging.sending: guards, idempotent create, started-call bookkeeping, error classes."""

import threading

import pytest
from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import connection

from core import idempotency
from messaging import sending
from messaging.models import TwoWayCall
from tests.factories import UserFactory, VendorAccountFactory
from vendors import errors as e

SENT_TASKS: list[int] = []  # pks the test task received


@shared_task(name="tests.messaging.record_send")
def record_send(pk: int) -> None:
    SENT_TASKS.append(pk)


KIND = sending.SendKind(
    model=TwoWayCall,
    capability="supports_sms",
    task_name="tests.messaging.record_send",
    label="test sends",
)


@pytest.fixture
def account(db):
    return VendorAccountFactory(vendor="ccp")


def _row(account, **fields):
    return TwoWayCall.objects.create(
        vendor_account=account, from_number="+8613800000001", to_number="+8613800000002", **fields
    )


def test_disabled_account_is_refused(account):
    account.enabled = False
    with pytest.raises(ValidationError, match="is disabled"):
        sending.check_account(account, KIND)


def test_account_without_the_capability_is_refused_and_not_offered(db):
    igw = VendorAccountFactory(vendor="igw")
    ccp = VendorAccountFactory(vendor="ccp")
    with pytest.raises(ValidationError, match="does not offer test sends"):
        sending.check_account(igw, KIND)
    assert list(sending.accounts_offering("supports_sms")) == [ccp]


def _create(account, user, key, to="+8613800000002"):
    return sending.create_send(
        kind=KIND,
        account=account,
        request={"to": to},
        created_by=user,
        idempotency_key=key,
        insert=lambda common: TwoWayCall.objects.create(
            from_number="+8613800000001", to_number=to, **common
        ),
    )


def test_idempotent_create_replays_and_conflicts(account, django_capture_on_commit_callbacks):
    user = UserFactory()
    SENT_TASKS.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first, created = _create(account, user, "k1")
    assert created
    assert [first.pk] == SENT_TASKS
    again, created = _create(account, user, "k1")
    assert (again.pk, created) == (first.pk, False)
    with pytest.raises(idempotency.IdempotencyConflict) as exc:
        _create(account, user, "k1", to="+8613800000003")
    assert exc.value.instance.pk == first.pk
    # Keys are per user; no key, or no user, always creates.
    assert _create(account, UserFactory(), "k1")[1]
    assert _create(account, user, "")[0].pk != _create(account, user, "")[0].pk
    assert TwoWayCall.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_racing_twins_make_one_row():
    account = VendorAccountFactory(vendor="ccp")
    user = UserFactory()
    barrier = threading.Barrier(4)
    results = []

    def twin():
        try:
            barrier.wait()
            results.append(_create(account, user, "race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=twin) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert TwoWayCall.objects.count() == 1
    assert len({row.pk for row, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_rate_limited_create_writes_nothing(account, settings):
    settings.MESSAGING_SENDS_PER_MINUTE = 1
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"
    _create(account, None, "")
    with pytest.raises(sending.limits.RateLimitExceeded):
        _create(account, None, "")
    assert TwoWayCall.objects.count() == 1


def test_a_started_call_is_never_repeated(account):
    row = _row(account)
    assert sending.start_call(TwoWayCall, row.pk).attempts == 1
    # A redelivered task finds the call started and unsettled: outcome unknown.
    assert sending.start_call(TwoWayCall, row.pk) is None
    row.refresh_from_db()
    assert (row.state, row.error_code) == ("failed", sending.UNKNOWN_OUTCOME)
    assert "check at the vendor" in row.error_advice.lower()


@pytest.mark.parametrize(
    ("error", "code", "unknown"),
    [
        (
            e.AuthError("ccp", "111109", "sig不匹配", message_en="sig does not match"),
            "111109",
            False,
        ),
        (e.PermissionDenied("ccp", "111114", "账户已暂停"), "111114", False),
        (e.InvalidRequest("ccp", "160031", "参数错误"), "160031", False),
        (e.InsufficientBalance("ccp", "160014", "余额不足"), "160014", False),
        (e.NetworkError("ccp", "timeout", "ReadTimeout"), sending.UNKNOWN_OUTCOME, True),
        (e.ResponseError("ccp", "", "not JSON"), sending.UNKNOWN_OUTCOME, True),
        (e.TemporaryError("ccp", "", "HTTP 502", http_status=502), sending.UNKNOWN_OUTCOME, True),
        (
            e.TemporaryError("ccp", "503", "HTTP 503", http_status=503),
            sending.UNKNOWN_OUTCOME,
            True,
        ),
    ],
)
def test_each_error_class_fails_the_send_with_its_text(account, error, code, unknown):
    row = _row(account)
    sending.run_single(KIND, row.pk, lambda client, r: (_ for _ in ()).throw(error))
    row.refresh_from_db()
    assert row.state == "failed"
    assert row.error_code == code
    assert row.error_text == error.message
    assert row.call_started_at is not None  # a failure never re-opens the send
    assert (row.error_advice == sending.UNKNOWN_ADVICE) is unknown


def test_documented_try_again_is_retried_not_failed(account):
    row = _row(account)
    busy = e.TemporaryError("ccp", "172001", "busy")  # a row of ccp's table, retryable
    with pytest.raises(sending.RetryLater):
        sending.run_single(KIND, row.pk, lambda client, r: (_ for _ in ()).throw(busy))
    row.refresh_from_db()
    assert (row.state, row.call_started_at) == ("pending", None)
    sending.run_single(KIND, row.pk, lambda client, r: {"call_sid": "abc"})
    row.refresh_from_db()
    assert (row.state, row.call_sid, row.attempts) == ("sent", "abc", 2)
    assert row.sent_at is not None


def test_final_attempt_fails_instead_of_retrying(account):
    row = _row(account)
    busy = e.TemporaryError("ccp", "172001", "busy")
    sending.run_single(KIND, row.pk, lambda c, r: (_ for _ in ()).throw(busy), final_attempt=True)
    row.refresh_from_db()
    assert (row.state, row.error_code) == ("failed", "172001")


def test_disabled_before_the_call_fails_without_calling(account):
    row = _row(account)
    account.enabled = False
    account.save()
    sending.run_single(KIND, row.pk, lambda c, r: pytest.fail("called the vendor"))
    row.refresh_from_db()
    assert (row.state, row.error_code) == ("failed", "account_disabled")
