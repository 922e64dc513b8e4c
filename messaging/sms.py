"""SMS and template SMS (ccp guide §2.5.2 SMS/Messages, and SMS/TemplateSMS): the
create use case (web) and the send (worker). messaging.services re-exports these.

A Message has a MessageRecipient per number. Numbers are split into batches of the
vendor's maximum (`sms_max_recipients` on the client class); each batch is its own
vendor request, and its recipients share that request's smsMessageSid and outcome.

Bounds (OUR CHOICES; the guide states none): at most MAX_RECIPIENTS numbers per
message, a body of at most MAX_BODY characters, at most MAX_DATAS template datas of
at most MAX_DATA_LENGTH characters each, a templateId of 1-32 letters and digits.

The send (worker) goes batch by batch. Before a batch's request its rows are claimed
(marked started by one conditional UPDATE, committed); a twin task leaves a batch
another has claimed, and one that finds a batch claimed longer ago than
sending.CALL_LEASE and still queued fails it as "outcome unknown" instead of
sending it twice. A documented
"try again" answer re-opens the batch and retries the task later (batches already
sent stay sent). The message ends `sent` (every number sent), `failed` (none) or
`partial`, with the first failure's code, text, gloss and advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import groupby

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from accounts.models import SubAccount, VendorAccount
from core.phones import national_number, normalize_number
from messaging import sending
from messaging.models import Message, MessageRecipient, SendState
from vendors import errors as e

MAX_RECIPIENTS = 1000
MAX_BODY = 500
MAX_DATAS = 10
MAX_DATA_LENGTH = 100
TEMPLATE_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# msgType: "0" is the guide's ordinary SMS; "1" (long SMS) is the cloopen convention.
MSG_TYPES = (("0", "Ordinary SMS (0)"), ("1", "Long SMS (1)"))

SMS = sending.SendKind(
    model=Message,
    capability="supports_sms",
    task_name="messaging.tasks.message_send",
    label="SMS",
)


# --------------------------------------------------------------------------- validation


def clean_recipients(numbers: Iterable[str] | str) -> list[str]:
    """E.164 numbers, in order, without repeats; ValidationError naming each bad one."""
    if isinstance(numbers, str):
        numbers = re.split(r"[\s,;]+", numbers)
    raw = [str(n).strip() for n in numbers if str(n).strip()]
    if not raw:
        raise ValidationError({"to": "Enter at least one number."})
    if len(raw) > MAX_RECIPIENTS:
        raise ValidationError({"to": f"At most {MAX_RECIPIENTS} numbers per message."})
    cleaned: list[str] = []
    bad: list[str] = []
    for text in raw:
        try:
            cleaned.append(normalize_number(text))
        except ValidationError:
            bad.append(text[:32])
    if bad:
        raise ValidationError({"to": f"Not phone numbers: {', '.join(bad[:5])}."})
    return list(dict.fromkeys(cleaned))


def _printable(value: str, field: str, limit: int) -> str:
    if "\x00" in value:
        raise ValidationError({field: "Contains a NUL character."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    return value


def clean_datas(datas: Sequence[str] | None) -> list[str]:
    items = [str(d) for d in (datas or [])]
    if len(items) > MAX_DATAS:
        raise ValidationError({"datas": f"At most {MAX_DATAS} template parameters."})
    return [_printable(item, "datas", MAX_DATA_LENGTH) for item in items]


def _clean_content(
    *, kind: str, body: str, msg_type: str, template_id: str, datas: Sequence[str] | None
) -> dict:
    if kind == Message.Kind.PLAIN:
        body = _printable((body or "").strip(), "body", MAX_BODY)
        if not body:
            raise ValidationError({"body": "Enter the message text."})
        if msg_type not in dict(MSG_TYPES):
            raise ValidationError({"msg_type": "Choose 0 or 1."})
        return {"body": body, "msg_type": msg_type, "template_id": "", "datas": []}
    if kind != Message.Kind.TEMPLATE:
        raise ValidationError({"kind": "Choose plain or template."})
    template_id = (template_id or "").strip()
    if not TEMPLATE_ID.fullmatch(template_id):
        raise ValidationError({"template_id": "1 to 32 letters or digits."})
    return {"body": "", "msg_type": "", "template_id": template_id, "datas": clean_datas(datas)}


def _clean_sub_account(account: VendorAccount, sub_account: SubAccount | None, kind: str):
    if sub_account is None:
        return None
    if kind != Message.Kind.PLAIN:
        raise ValidationError({"sub_account": "Only a plain SMS names a sub-account."})
    if sub_account.vendor_account_id != account.pk:
        raise ValidationError({"sub_account": "Not a sub-account of this vendor account."})
    return sub_account


# --------------------------------------------------------------------------- create (web)


def batch_size(account: VendorAccount) -> int:
    """The vendor's maximum numbers per request (the client class says)."""
    import vendors

    cls = vendors.REGISTRY.get(account.vendor)
    return max(1, int(getattr(cls, "sms_max_recipients", 1)))


def message_create_or_replay(
    *,
    vendor_account: VendorAccount,
    to: Iterable[str] | str,
    kind: str = Message.Kind.PLAIN,
    body: str = "",
    msg_type: str = "0",
    template_id: str = "",
    datas: Sequence[str] | None = None,
    sub_account: SubAccount | None = None,
    created_by=None,
    idempotency_key: str = "",
) -> tuple[Message, bool]:
    """Validate, count against the account's limits, write a pending Message with its
    queued recipients, and enqueue the send. Returns (message, created).

    Raises ValidationError (field errors), messaging.limits.RateLimitExceeded, or
    core.idempotency.IdempotencyConflict; nothing is written or sent then. With an
    Idempotency-Key already used by `created_by` for the same request, returns the
    first message and sends nothing.
    """
    if vendor_account is None:
        raise ValidationError({"vendor_account": "Choose a vendor account."})
    numbers = clean_recipients(to)
    content = _clean_content(
        kind=kind, body=body, msg_type=msg_type, template_id=template_id, datas=datas
    )
    sub_account = _clean_sub_account(vendor_account, sub_account, kind)
    request = {
        "vendor_account": vendor_account.pk,
        "kind": kind,
        "to": numbers,
        "sub_account": sub_account.pk if sub_account else None,
        **content,
    }
    size = batch_size(vendor_account)

    def insert(common: dict) -> Message:
        message = Message.objects.create(
            kind=kind,
            sub_account=sub_account,
            recipient_count=len(numbers),
            **content,
            **common,
        )
        MessageRecipient.objects.bulk_create(
            MessageRecipient(message=message, number=number, batch=i // size)
            for i, number in enumerate(numbers)
        )
        return message

    return sending.create_send(
        kind=SMS,
        account=vendor_account,
        request=request,
        created_by=created_by,
        idempotency_key=idempotency_key,
        insert=insert,
        units=len(numbers),
    )


def message_create(**kwargs) -> Message:
    """`message_create_or_replay` for callers that do not care whether a key replayed."""
    return message_create_or_replay(**kwargs)[0]


# --------------------------------------------------------------------------- send (worker)


def message_send(*, pk: int, final_attempt: bool = False) -> None:
    """Send a pending message's queued batches (worker). Raises sending.RetryLater."""
    from accounts.selectors import vendor_client

    message = Message.objects.select_related("vendor_account", "sub_account").filter(pk=pk).first()
    if message is None or message.state != SendState.PENDING:
        return
    queued = message.recipients.filter(state=MessageRecipient.State.QUEUED).order_by("batch", "id")
    batches = [(b, list(rows)) for b, rows in groupby(queued, key=lambda r: r.batch)]
    client = None
    for _, rows in batches:
        if not message.vendor_account.enabled:
            _fail_rows(rows, sending.error_fields(**_disabled(message)))
            continue
        if not _claim(rows):
            # Started by another task: in flight (leave it), or abandoned (unknown).
            abandoned = [
                r for r in rows if r.call_started_at and sending.call_abandoned(r.call_started_at)
            ]
            _fail_rows(abandoned, sending.error_fields(**_UNKNOWN))
            continue
        client = client or vendor_client(account=message.vendor_account)
        _send_batch(message, rows, client, final_attempt)
    message_settle(pk=pk)


def _claim(rows: list) -> bool:
    """Mark a batch started, committed, before its vendor call; False when another task
    had started it (the conditional UPDATE makes the claim atomic across workers)."""
    if any(r.call_started_at is not None for r in rows):
        return False
    ids = [r.pk for r in rows]
    claimed = MessageRecipient.objects.filter(
        pk__in=ids, call_started_at__isnull=True, state=MessageRecipient.State.QUEUED
    ).update(call_started_at=timezone.now())
    # Fewer rows: a twin task claimed the batch between our read and this update.
    return claimed == len(ids)


_UNKNOWN = {
    "code": sending.UNKNOWN_OUTCOME,
    "text_en": sending.UNKNOWN_TEXT,
    "advice": sending.UNKNOWN_ADVICE,
}


def _disabled(message: Message) -> dict[str, str]:
    return {
        "code": "account_disabled",
        "text_en": f"{message.vendor_account.name} was disabled before the vendor call.",
        "advice": "Enable the vendor account and send again.",
    }


def _send_batch(message: Message, rows: list, client, final_attempt: bool) -> None:
    ids = [r.pk for r in rows]
    Message.objects.filter(pk=message.pk).update(attempts=F("attempts") + 1)
    message.attempts += 1
    numbers = [national_number(r.number) for r in rows]
    try:
        if message.kind == Message.Kind.TEMPLATE:
            result = client.send_template_sms(numbers, message.template_id, list(message.datas))
        else:
            sid = message.sub_account.sub_account_sid if message.sub_account else ""
            result = client.send_sms(numbers, message.body, message.msg_type or "0", sid)
    except e.VendorError as exc:
        if sending.should_retry(client, exc, final_attempt=final_attempt):
            MessageRecipient.objects.filter(pk__in=ids).update(call_started_at=None)
            raise sending.RetryLater(sending.retry_countdown(message.attempts), exc) from exc
        _fail_rows(rows, sending.error_fields(exc))
        return
    MessageRecipient.objects.filter(pk__in=ids).update(
        state=MessageRecipient.State.SENT,
        sms_message_sid=result.message_id[:64],
        vendor_created_at=result.created_at,
        updated_at=timezone.now(),
    )


def _fail_rows(rows: list, fields: dict[str, str]) -> None:
    MessageRecipient.objects.filter(
        pk__in=[r.pk for r in rows], state=MessageRecipient.State.QUEUED
    ).update(state=MessageRecipient.State.FAILED, updated_at=timezone.now(), **fields)


def message_settle(*, pk: int) -> Message | None:
    """Once no recipient is queued: sent, failed or partial, with the first failure."""
    recipients = MessageRecipient.objects.filter(message_id=pk)
    if recipients.filter(state=MessageRecipient.State.QUEUED).exists():
        return None
    failed = recipients.filter(state=MessageRecipient.State.FAILED).order_by("batch", "id")
    first = failed.first()
    sent = recipients.filter(state=MessageRecipient.State.SENT).exists()
    state = SendState.SENT if first is None else (SendState.PARTIAL if sent else SendState.FAILED)
    now = timezone.now()
    changes = {"state": state, "updated_at": now}
    if sent:
        changes["sent_at"] = now
    if first is not None:
        changes.update(
            error_code=first.error_code,
            error_text=first.error_text,
            error_text_en=first.error_text_en,
            error_advice=first.error_advice,
        )
    sending.settle(Message, pk, **changes)
    return Message.objects.filter(pk=pk).first()
