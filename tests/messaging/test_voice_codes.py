"""messaging.services voice codes against the sandbox over real HTTP: sessionId stored,
the code cleared once sent, the status and fee pushes attach by sessionId with an
outcome in the common vocabulary, the per-recipient cap, each vendor error class."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.exceptions import ValidationError

from messaging import limits, selectors, services
from messaging.models import SendPolicy, VoiceCode
from sandbox.models import SandboxCall, SandboxRequest
from tests.factories import UserFactory
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import CODE, play

pytestmark = pytest.mark.django_db(transaction=True)
CALLEE = "+8613800000021"


def _create(account, **kwargs):
    kwargs.setdefault("callee_number", CALLEE)
    kwargs.setdefault("verify_code", CODE)
    kwargs.setdefault("pre_tone", "welcome.wav")
    row, _ = services.voice_code_create(vendor_account=account, **kwargs)
    row.refresh_from_db()
    return row


def test_sent_with_the_accounts_push_urls_and_display_number_then_the_code_is_gone(
    console_account, live_server
):
    account = console_account("huawei")
    row = _create(account, times=2, user_data="order-1")
    assert row.state == "sent" and row.session_id.startswith("1200_")
    assert row.code == "" and row.code_length == len(CODE)
    assert row.display_number == "+8675528000088"  # the account's display_number setting
    call = SandboxCall.objects.get(call_id=row.session_id)
    urls = call.params
    token = account.webhook_token
    assert urls["statusUrl"] == f"{live_server.url}/callbacks/{token}/status/"
    assert urls["feeUrl"] == f"{live_server.url}/callbacks/{token}/cdr/"
    body = json.loads(SandboxRequest.objects.filter(vendor="huawei").latest("id").body)
    assert base64.b64decode(body["statusUrl"]).decode() == urls["statusUrl"]
    assert (body["verifyCode"], body["times"], body["calleeNbr"]) == (CODE, 2, CALLEE)


@pytest.mark.parametrize(
    ("outcome", "events"),
    [
        ("answered", ["callout", "alerting", "answer", "disconnect"]),
        ("busy", ["callout", "disconnect"]),
        ("no_answer", ["callout", "alerting", "disconnect"]),
    ],
)
def test_status_and_fee_pushes_attach_by_session_id(console_account, outcome, events):
    account = console_account("huawei")
    row = _create(account)
    play(row.session_id, outcome=outcome, duration=9)
    progress = selectors.call_progress(row)
    assert [e.kind for e in progress.events] == events
    assert progress.has_cdr and progress.outcome == outcome
    assert progress.last_event == "disconnect"


def test_outcome_from_the_events_before_the_fee_push(console_account):
    account = console_account("huawei")
    row = _create(account)
    play(row.session_id, outcome="answered", chaos={"out_of_order": True})
    assert selectors.call_progress(row).outcome == "answered"
    record = selectors.call_record_for(row)
    record.has_cdr = False
    record.save()
    events = selectors.call_events_for(row)
    assert selectors.outcome_of(record, events) == "answered"
    assert selectors.outcome_of(record, [e for e in events if e.kind != "answer"]) == "no_answer"
    assert selectors.outcome_of(record, events[:1]) == ""


def test_per_recipient_cap_refuses_and_sends_nothing(console_account):
    account = console_account("huawei")
    SendPolicy.objects.create(vendor_account=account, recipient_per_hour=2)
    _create(account)
    _create(account)
    with pytest.raises(limits.RateLimitExceeded) as exc:
        _create(account)
    assert exc.value.retry_after > 0 and "to one number" in exc.value.message
    _create(account, callee_number="+8613800000022")  # another number is not capped
    assert VoiceCode.objects.count() == 3 and SandboxCall.objects.count() == 3


def test_default_cap_is_five_an_hour(console_account):
    account = console_account("huawei")
    for _ in range(5):
        _create(account)
    with pytest.raises(limits.RateLimitExceeded):
        _create(account)


@pytest.mark.parametrize(
    ("change", "code", "advice"),
    [
        ({"secret": "wrong-secret"}, "1010010", "PasswordDigest"),  # 表6 advice
        ({"suspended": True}, "1010008", ""),
        ({"language_type": 1}, "1020001", ""),
    ],
)
def test_each_vendor_error_class_fails_the_row_with_its_text(console_account, change, code, advice):
    account = console_account("huawei")
    kwargs = {}
    if "secret" in change:
        account.secret = change["secret"]
        account.save()
    elif "suspended" in change:
        account.sandbox.state = 2
        account.sandbox.save()
    else:
        kwargs = change
    row = _create(account, **kwargs)
    assert (row.state, row.error_code) == ("failed", code)
    assert row.error_text and row.error_text_en and advice in row.error_advice
    assert row.code == ""  # failed: the code is not kept either


def test_refused_before_sending(console_account, settings):
    account = console_account("huawei", extra={"display_number": ""})
    with pytest.raises(ValidationError) as exc:
        _create(account)
    assert "display_number" in exc.value.message_dict
    account = console_account("huawei")
    for kwargs, field in (
        ({"verify_code": "1"}, "verify_code"),
        ({"verify_code": "12ab"}, "verify_code"),
        ({"times": 10}, "times"),
        ({"user_data": "{x}"}, "user_data"),
        ({"callee_number": "12"}, "callee_number"),
    ):
        with pytest.raises(ValidationError) as exc:
            _create(account, **kwargs)
        assert field in exc.value.message_dict, kwargs
        assert CODE not in str(exc.value)
    # A public URL too long for 表4's 128 Base64 characters: said before anything is sent.
    settings.PUBLIC_BASE_URL = "https://console.a-rather-long-domain-name.example.com"
    with pytest.raises(ValidationError, match="callback URL cannot be given"):
        _create(account)
    assert SandboxCall.objects.count() == 0 and VoiceCode.objects.count() == 0


def test_idempotent_retry_sends_once(console_account):
    account = console_account("huawei")
    user = UserFactory()
    request = {
        "vendor_account": account,
        "callee_number": CALLEE,
        "verify_code": CODE,
        "pre_tone": "w.wav",
        "created_by": user,
        "idempotency_key": "vk",
    }
    first, created = services.voice_code_create(**request)
    again, replayed = services.voice_code_create(**request)
    assert (created, replayed, again.pk) == (True, False, first.pk)
    assert SandboxCall.objects.count() == 1
    # The fingerprint holds no plain hash of the code.
    assert CODE not in again.request_fingerprint
