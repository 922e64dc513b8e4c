"""SMS and template SMS against the sandbox over real HTTP (tasks run eagerly)."""

import pytest
from django.core.exceptions import ValidationError

from core.idempotency import IdempotencyConflict
from messaging import services, sms
from messaging.models import Message, MessageRecipient
from sandbox.models import SandboxMessage, SandboxRequest
from sandbox.services import account_set_chaos
from tests.factories import SubAccountFactory, UserFactory, VendorAccountFactory
from vendors import ccp as ccp_vendor
from vendors import errors as e

NUMBERS = ["13800000001", "+8613800000002", "008613800000003"]


def _send(account, **kw):
    kw.setdefault("to", NUMBERS)
    kw.setdefault("body", "你好 hello")
    message = services.message_create(vendor_account=account, **kw)
    message.refresh_from_db()
    return message


def test_plain_sms_to_several_numbers(ccp):
    message = _send(ccp)
    assert message.state == "sent" and message.sent_at is not None
    stored = SandboxMessage.objects.get()
    assert stored.to == "13800000001,13800000002,13800000003"
    assert stored.body == "你好 hello"
    rows = list(message.recipients.all())
    assert [r.number for r in rows] == ["+8613800000001", "+8613800000002", "+8613800000003"]
    assert {(r.state, r.sms_message_sid) for r in rows} == {("sent", stored.message_sid)}
    assert all(r.vendor_created_at is not None for r in rows)
    request = SandboxRequest.objects.filter(path__endswith="/SMS/Messages").get()
    assert request.verdict == "ok"  # signed as documented: the sandbox checked sig and auth


def test_template_sms_with_datas(ccp):
    message = _send(ccp, kind="template", template_id="1", datas=["1234", "5"], body="")
    assert message.state == "sent"
    stored = SandboxMessage.objects.get()
    assert (stored.kind, stored.template_id, stored.datas) == ("template", "1", ["1234", "5"])


def test_sub_account_is_sent_as_subaccountsid(ccp):
    sub = SubAccountFactory(vendor_account=ccp)
    _send(ccp, sub_account=sub)
    assert SandboxMessage.objects.get().sub_account_sid == sub.sub_account_sid


def test_large_sends_are_split_into_vendor_maximum_batches(ccp, monkeypatch):
    monkeypatch.setattr(ccp_vendor.CcpClient, "sms_max_recipients", 2)
    numbers = [f"1380000000{i}" for i in range(5)]
    message = _send(ccp, to=numbers)
    assert message.state == "sent" and message.attempts == 3
    assert [m.to.count(",") + 1 for m in SandboxMessage.objects.order_by("id")] == [2, 2, 1]
    sids = message.recipients.values_list("batch", "sms_message_sid")
    assert len({sid for _, sid in sids}) == 3
    assert [b for b, _ in sids] == [0, 0, 1, 1, 2]


@pytest.mark.parametrize("state", [0, -1])
def test_disabled_or_deleted_application_fails_naming_the_rule(ccp, state):
    account_set_chaos(account=ccp.sandbox, ccp_app_state=state)
    message = _send(ccp)
    assert (message.state, message.error_code) == ("failed", "112312")
    assert "disabled or deleted" in message.error_text_en
    assert message.error_text  # the vendor's own (Chinese) text is kept
    assert set(message.recipients.values_list("state", flat=True)) == {"failed"}


def test_application_not_online_sends_only_to_registered_numbers(ccp, monkeypatch):
    monkeypatch.setattr(ccp_vendor.CcpClient, "sms_max_recipients", 1)
    account_set_chaos(account=ccp.sandbox, ccp_app_state=3, ccp_registered_numbers=["13800000001"])
    message = _send(ccp, to=["13800000001", "13800000002"])
    assert message.state == "partial"
    assert message.error_code == "112305"
    assert "only to the account's registered numbers" in message.error_text_en
    states = dict(message.recipients.values_list("number", "state"))
    assert states == {"+8613800000001": "sent", "+8613800000002": "failed"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"to": "12"}, "to"),
        ({"to": ""}, "to"),
        ({"to": ["13800000001"] * 1001}, "to"),
        ({"body": ""}, "body"),
        ({"body": "x" * 501}, "body"),
        ({"body": "a\x00b"}, "body"),
        ({"msg_type": "7"}, "msg_type"),
        ({"kind": "template", "template_id": "", "body": ""}, "template_id"),
        ({"kind": "template", "template_id": "1;drop", "body": ""}, "template_id"),
        ({"kind": "template", "template_id": "1", "datas": ["x"] * 11}, "datas"),
        ({"kind": "template", "template_id": "1", "datas": ["x" * 101]}, "datas"),
        ({"kind": "other"}, "kind"),
    ],
)
def test_bad_requests_are_field_errors_and_write_nothing(db, kwargs, field):
    account = VendorAccountFactory(vendor="ccp")
    kwargs = {"to": ["13800000001"], "body": "hi", **kwargs}
    with pytest.raises(ValidationError) as exc:
        services.message_create(vendor_account=account, **kwargs)
    assert field in exc.value.message_dict
    assert not Message.objects.exists()


def test_guards_refuse_disabled_accounts_and_vendors_without_sms(db):
    disabled = VendorAccountFactory(vendor="ccp", enabled=False)
    with pytest.raises(ValidationError, match="is disabled"):
        services.message_create(vendor_account=disabled, to=["13800000001"], body="hi")
    with pytest.raises(ValidationError, match="does not offer SMS"):
        services.message_create(
            vendor_account=VendorAccountFactory(vendor="igw"), to=["13800000001"], body="hi"
        )
    other = SubAccountFactory()
    with pytest.raises(ValidationError, match="Not a sub-account"):
        services.message_create(
            vendor_account=VendorAccountFactory(vendor="ccp"),
            to=["13800000001"],
            body="hi",
            sub_account=other,
        )


def test_idempotent_retry_sends_once(ccp):
    user = UserFactory()
    first, created = services.message_create_or_replay(
        vendor_account=ccp, to=NUMBERS, body="hi", created_by=user, idempotency_key="abc"
    )
    again, replayed = services.message_create_or_replay(
        vendor_account=ccp,
        to=list(reversed(NUMBERS))[::-1],
        body="hi",
        created_by=user,
        idempotency_key="abc",
    )
    assert (created, replayed, again.pk) == (True, False, first.pk)
    assert SandboxMessage.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        services.message_create_or_replay(
            vendor_account=ccp, to=NUMBERS, body="other", created_by=user, idempotency_key="abc"
        )


def test_rate_limit_refuses_and_sends_nothing(ccp, settings):
    settings.MESSAGING_SENDS_PER_MINUTE = 4
    _send(ccp)  # 3 recipients
    with pytest.raises(services.RateLimitExceeded) as exc:
        _send(ccp, to=["13800000007", "13800000008"])
    assert exc.value.retry_after >= 1
    assert Message.objects.count() == 1 and SandboxMessage.objects.count() == 1
    _send(ccp, to=["13800000009"])  # exactly the 4th


def _vendor_fails(monkeypatch, error, calls):
    def fail(self, *args, **kwargs):
        calls.append(args)
        raise error

    monkeypatch.setattr(ccp_vendor.CcpClient, "send_sms", fail)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (e.NetworkError("ccp", "timeout", "ReadTimeout: read timed out"), "unknown_outcome"),
        (e.ResponseError("ccp", "000000", "answer without smsMessageSid"), "unknown_outcome"),
        (e.InsufficientBalance("ccp", "160014", "余额不足"), "160014"),
        (e.OutboundRefused("ccp", "refused", "127.0.0.1:1 is not allowed"), "refused"),
    ],
)
def test_injected_faults_fail_with_their_text_and_never_resend(ccp, monkeypatch, error, code):
    calls = []
    _vendor_fails(monkeypatch, error, calls)
    message = _send(ccp)
    assert (message.state, message.error_code, len(calls)) == ("failed", code, 1)
    assert error.message in message.error_text
    if code == "unknown_outcome":
        assert "check at the vendor" in message.error_advice.lower()


def test_sandbox_answers_map_to_error_classes(ccp):
    # AuthError: the console holds a wrong token; the sandbox answers 111109.
    ccp.secret = "wrong"
    ccp.save()
    message = _send(ccp)
    assert (message.state, message.error_code) == ("failed", "111109")
    assert message.error_text_en == "sig does not match"
    # A bare HTTP 503: the vendor may have acted, so not repeated; outcome unknown.
    ccp.secret = ccp.sandbox.secret
    ccp.save()
    account_set_chaos(account=ccp.sandbox, chaos_api_fail_next=1)
    message = _send(ccp)
    assert (message.state, message.error_code) == ("failed", "unknown_outcome")
    assert SandboxMessage.objects.count() == 0


def test_network_error_code_is_not_retried(ccp, monkeypatch):
    calls = []
    _vendor_fails(monkeypatch, e.NetworkError("ccp", "172001", "网络错误"), calls)
    message = _send(ccp)
    # Never retried by the task: the first call may have gone out.
    assert (message.state, message.error_code, len(calls)) == ("failed", "unknown_outcome", 1)


def test_documented_try_again_is_retried_and_sends_once(ccp, monkeypatch):
    table = {**ccp_vendor.CcpClient.error_map, "160038": (e.RateLimited, "busy, try again")}
    monkeypatch.setattr(ccp_vendor.CcpClient, "error_map", table)
    real = ccp_vendor.CcpClient.send_sms
    calls = []

    def busy_once(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise e.RateLimited("ccp", "160038", "busy")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ccp_vendor.CcpClient, "send_sms", busy_once)
    message = _send(ccp)
    assert (message.state, len(calls), message.attempts) == ("sent", 2, 2)
    assert SandboxMessage.objects.count() == 1


def test_a_started_batch_is_not_sent_again(ccp, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(ccp_vendor.CcpClient, "sms_max_recipients", 1)
    monkeypatch.setattr("core.outbox.doorbell", lambda *a: None)  # send by hand below
    message = services.message_create(vendor_account=ccp, to=NUMBERS[:2], body="hi")
    # Batch 0 was started by a task still in flight: a twin sends only batch 1.
    message.recipients.filter(batch=0).update(call_started_at=timezone.now())
    services.message_send(pk=message.pk)
    message.refresh_from_db()
    assert message.state == "pending" and SandboxMessage.objects.count() == 1
    assert message.recipients.get(batch=1).state == "sent"
    # Its worker died: once the lease is over, the batch is unknown, never repeated.
    message.recipients.filter(batch=0).update(call_started_at="2026-01-01T00:00:00Z")
    services.message_send(pk=message.pk)
    message.refresh_from_db()
    assert message.state == "partial"
    states = dict(message.recipients.values_list("batch", "error_code"))
    assert states == {0: "unknown_outcome", 1: ""}
    assert SandboxMessage.objects.count() == 1


def test_a_lost_send_message_is_published_by_the_outbox_dispatcher(ccp, monkeypatch):
    from core import outbox
    from core.models import OutboxItem

    monkeypatch.setattr("core.outbox.doorbell", lambda *a: None)
    message = services.message_create(vendor_account=ccp, to=NUMBERS[:1], body="hi")
    monkeypatch.undo()
    item = OutboxItem.objects.get(task="messaging.tasks.message_send", object_id=message.pk)
    assert outbox.dispatch(now=item.due_at) == 1
    message.refresh_from_db()
    assert message.state == "sent"
    assert not OutboxItem.objects.exists()  # done in the transaction that settled it
    assert outbox.dispatch() == 0
    assert MessageRecipient.objects.get().state == "sent"


def test_batch_size_reads_the_client_class(db):
    assert sms.batch_size(VendorAccountFactory(vendor="ccp")) == 100
