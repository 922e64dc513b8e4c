"""messaging.services two-way calls against the sandbox over real HTTP: signed with a
sub-account, optional fields sent, callSid stored, each vendor error class → failed
with its text, an idempotent retry sends once, events and the Hangup CDR attach."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from callbacks.models import CallRecord
from core import idempotency
from messaging import selectors, services
from messaging.models import TwoWayCall
from sandbox.models import SandboxCall, SandboxSubAccount
from tests.factories import UserFactory
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import A, B, play
from vendors import NetworkError

pytestmark = pytest.mark.django_db(transaction=True)


def _create(account, **kwargs):
    kwargs.setdefault("from_number", A)
    kwargs.setdefault("to_number", B)
    row, _ = services.two_way_call_create(vendor_account=account, **kwargs)
    row.refresh_from_db()
    return row


def test_sent_signed_with_the_sub_account_and_its_options(console_account):
    account = console_account("ccp")
    sub = account.sub_accounts.get()
    row = _create(
        account,
        options={"from_ser_num": "02560000001", "max_call_time": 600, "need_record": True},
    )
    assert row.state == "sent" and row.call_sid and row.sub_account == sub
    call = SandboxCall.objects.get(call_id=row.call_sid)
    # The sandbox checked sig and Authorization against the sub-account's own token.
    assert call.params["subAccountSid"] == sub.sub_account_sid
    assert (call.caller, call.callee) == (A, B)
    assert call.params["fromSerNum"] == "02560000001"
    assert (call.params["maxCallTime"], call.params["needRecord"]) == ("600", "1")
    assert row.from_number == "+86" + A and row.options["from_ser_num"] == "+862560000001"


def test_events_and_hangup_cdr_attach_by_call_sid(console_account):
    account = console_account("ccp")
    row = _create(account)
    assert selectors.call_progress(row).record is None
    play(row.call_sid, duration=21)
    progress = selectors.call_progress(row)
    assert progress.has_cdr and progress.outcome == "answered"
    assert progress.record.duration == 21
    assert [e.kind for e in progress.events] == ["call_start", "answer"]


def test_busy_outcome(console_account):
    account = console_account("ccp")
    row = _create(account)
    play(row.call_sid, outcome="busy")
    assert selectors.call_progress(row).outcome == "busy"


def test_a_callback_that_arrives_before_the_answer_attaches_too(console_account):
    account = console_account("ccp")
    CallRecord.objects.create(
        vendor_account=account, vendor="ccp", call_id="EARLY1", outcome="no_answer", has_cdr=True
    )
    row = TwoWayCall.objects.create(
        vendor_account=account, from_number="+86" + A, to_number="+86" + B, call_sid="EARLY1"
    )
    assert selectors.call_progress(row).outcome == "no_answer"


@pytest.mark.parametrize(
    ("break_it", "code", "error_class_advice"),
    [
        ("token", "111109", "credentials"),
        ("sub_gone", "111130", "does not know"),
        ("suspended", "111114", "refuses"),
    ],
)
def test_each_vendor_error_class_fails_the_row_with_its_text(
    console_account, break_it, code, error_class_advice
):
    account = console_account("ccp")
    sub = account.sub_accounts.get()
    if break_it == "token":
        sub.sub_token = "not-the-token"
        sub.save()
    elif break_it == "sub_gone":
        SandboxSubAccount.objects.filter(sub_account_sid=sub.sub_account_sid).delete()
    else:
        account.sandbox.state = 2
        account.sandbox.save()
    row = _create(account)
    assert (row.state, row.error_code) == ("failed", code)
    assert row.error_text.startswith("【账号】") and error_class_advice in row.error_advice
    assert row.attempts == 1 and not row.call_sid


def test_sandbox_5xx_is_an_unknown_outcome_and_is_not_sent_again(console_account):
    account = console_account("ccp")
    account.sandbox.chaos_api_fail_next = 1
    account.sandbox.save()
    row = _create(account)
    # A send has no idempotency key at the vendor: a bare 5xx may have acted, so it
    # is an unknown outcome, never retried blindly.
    assert (row.state, row.error_code, row.attempts) == ("failed", "unknown_outcome", 1)
    assert SandboxCall.objects.count() == 0


def test_network_error_after_sending_is_unknown_outcome(console_account):
    account = console_account("ccp")
    with mock.patch("vendors.ccp.CcpClient.two_way_call", side_effect=NetworkError("ccp")):
        row = _create(account)
    assert (row.state, row.error_code) == ("failed", "unknown_outcome")


def test_idempotent_retry_sends_once_and_another_request_conflicts(console_account):
    account = console_account("ccp")
    user = UserFactory()
    first, created = services.two_way_call_create(
        vendor_account=account, from_number=A, to_number=B, created_by=user, idempotency_key="k1"
    )
    again, created_again = services.two_way_call_create(
        vendor_account=account, from_number=A, to_number=B, created_by=user, idempotency_key="k1"
    )
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert SandboxCall.objects.count() == 1
    with pytest.raises(idempotency.IdempotencyConflict):
        services.two_way_call_create(
            vendor_account=account,
            from_number=A,
            to_number=A,
            created_by=user,
            idempotency_key="k1",
        )


def test_refusals_before_anything_is_sent(console_account):
    account = console_account("ccp", sub_accounts=0)
    with pytest.raises(ValidationError, match="no usable sub-account"):
        _create(account)
    account = console_account("ccp")
    with pytest.raises(ValidationError, match="terminalDtmf"):
        _create(account, options={"terminal_dtmf": "12"})
    with pytest.raises(ValidationError) as exc:
        _create(account, from_number="12")
    assert "from_number" in exc.value.message_dict
    account.enabled = False
    account.save()
    with pytest.raises(ValidationError, match="disabled"):
        _create(account)
    huawei = console_account("huawei")
    with pytest.raises(ValidationError, match="does not offer two-way calls"):
        _create(huawei)
    assert TwoWayCall.objects.count() == 0 and SandboxCall.objects.count() == 0
