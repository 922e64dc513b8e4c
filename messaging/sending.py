"""The machinery every kind of send shares, so a kind only declares itself.

A kind (SMS, two-way call, voice code) is a `SendKind`: its model (a messaging.models
Send), the vendor capability it needs (a client class attribute such as
`supports_sms`), and the Celery task (named after its service) that makes the vendor
call. The life of a send:

    create (web):  check_account → limits → idempotent insert (pending) + outbox row
    send (worker): outbox claim → start_call → vendor call → mark_sent | mark_failed |
                   RetryLater (the outbox row waits out the countdown)

The send is recorded in the outbox (core/outbox.py) with the pending row; the task
published on commit is a doorbell, and the outbox's dispatcher publishes it again
when that message is lost (a broker outage) or its worker died (the lease expired).

Adding a kind (messaging.sms is the worked example):
- a module-level `KIND = SendKind(model=..., capability="supports_...", task_name=
  "messaging.tasks.<service>", label=...)`;
- a create service that validates, then calls `create_send(kind=KIND, account=...,
  request=<normalized request>, created_by=..., idempotency_key=..., insert=...,
  units=<sends it counts>, extra_limits=[limits.recipient_limit(account, number)])`
  (the recipient cap, for voice codes);
- a send service `(*, pk, final_attempt=False)` that calls `run_single(KIND, pk, call)`
  with `call(client, row)` making the vendor call and returning the fields to save;
- a task in messaging.tasks: `run_with_retries(self, services.<service>, pk)`.

Retries follow vendors/: a send has no idempotency key at the vendor, so the client
already retried only what provably never reached it. Here a task retries only a
documented "try again" answer (the vendor said it did nothing); a timeout, a reset or
an unreadable answer after sending fails the row as "outcome unknown: check with the
vendor", and a redelivered task that finds a call started never calls again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

import vendors
from accounts.models import VendorAccount
from core import idempotency, outbox
from messaging import limits
from messaging.models import Send, SendState
from vendors import errors as e

S = TypeVar("S", bound=Send)

UNKNOWN_OUTCOME = "unknown_outcome"
UNKNOWN_TEXT = (
    "The vendor may have received this send, but its answer was lost; its outcome is unknown."
)
UNKNOWN_ADVICE = (
    "Check at the vendor whether it went out before sending again: "
    "a send is not repeated automatically, so it is never doubled."
)
MAX_TASK_RETRIES = 4


@dataclass(frozen=True)
class SendKind:
    """What a kind of send declares; everything else here is shared. Instances
    register themselves in KINDS (by task name: the outbox's work)."""

    model: type[Send]
    capability: str  # VendorClient class attribute, e.g. "supports_sms"
    task_name: str  # "messaging.tasks.<service>"; the task takes the row's pk
    label: str  # "SMS": in error texts

    def __post_init__(self) -> None:
        KINDS[self.task_name] = self


KINDS: dict[str, SendKind] = {}
# A started vendor call is in flight for at most the outbox's lease (longer than the
# client's timeouts and retries): a task meeting a younger start leaves the call to
# its owner; an older one means the owner died, and the outcome is unknown.
CALL_LEASE = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


class RetryLater(Exception):
    """The vendor said "try again" without acting; retry the task after `countdown` s."""

    def __init__(self, countdown: int, error: e.VendorError) -> None:
        super().__init__(countdown, error)
        self.countdown = countdown
        self.error = error


# --------------------------------------------------------------------------- guards


def vendor_supports(account: VendorAccount, capability: str) -> bool:
    """Whether the account's vendor client declares `capability` (False if unregistered)."""
    return bool(getattr(vendors.REGISTRY.get(account.vendor), capability, False))


def accounts_offering(capability: str) -> QuerySet[VendorAccount]:
    """Enabled accounts whose vendor offers `capability`: the forms' and API's choices."""
    codes = [code for code, cls in vendors.REGISTRY.items() if getattr(cls, capability, False)]
    return VendorAccount.objects.filter(enabled=True, vendor__in=codes)


def check_account(account: VendorAccount, kind: SendKind) -> None:
    """Refuse, naming why, an account that is disabled or whose vendor lacks the kind."""
    if not account.enabled:
        raise ValidationError(
            {"vendor_account": f"{account.name} is disabled: it sends nothing until enabled."}
        )
    if not vendor_supports(account, kind.capability):
        raise ValidationError(
            {"vendor_account": f"{account.name}'s vendor does not offer {kind.label}."}
        )


# --------------------------------------------------------------------------- create (web)


def create_send(
    *,
    kind: SendKind,
    account: VendorAccount,
    request: Mapping[str, Any],
    created_by,
    idempotency_key: str,
    insert: Callable[[dict[str, Any]], S],
    units: int = 1,
    extra_limits: Sequence[limits.Limit] = (),
) -> tuple[S, bool]:
    """The create use case of every kind: (row, created).

    `request` is the normalized request (its fingerprint tells a retry from a key
    reuse); `insert(common)` writes the pending row(s), with `common` (vendor_account,
    created_by, idempotency_key, request_fingerprint) on the Send; `units` is what the
    send counts against the account's limits, checked together with `extra_limits`
    (a recipient's cap: limits.recipient_limit). A replay returns the first row and
    counts nothing. Raises ValidationError, limits.RateLimitExceeded or
    core.idempotency.IdempotencyConflict; nothing is written or sent then.
    """
    check_account(account, kind)
    key = (idempotency_key or "").strip()[: idempotency.MAX_KEY_LENGTH]
    if created_by is None:
        key = ""
    fingerprint = idempotency.fingerprint({"kind": kind.task_name, **request})

    def create() -> S:
        # Counted only for a new row: a replay is free, and a refused send writes nothing.
        limits.acquire_with(account, units, list(extra_limits))
        row = insert(
            {
                "vendor_account": account,
                "created_by": created_by,
                "idempotency_key": key,
                "request_fingerprint": fingerprint,
            }
        )
        outbox.add(task=kind.task_name, object_id=row.pk)
        return row

    return idempotency.create_or_replay(
        model=kind.model,
        created_by=created_by,
        key=key,
        request_fingerprint=fingerprint,
        create=create,
    )


# --------------------------------------------------------------------------- send (worker)


def start_call(model: type[S], pk: int) -> S | None:
    """Mark a vendor call as started in a committed row; None if there is nothing to do.

    A row whose call started less than CALL_LEASE ago belongs to another task (a
    duplicate delivery): left alone. One whose call started earlier and never settled
    (its worker died) is failed as outcome unknown instead of being sent again.
    """
    with transaction.atomic():
        row = (
            model.objects.select_for_update(of=("self",))
            .select_related("vendor_account")
            .filter(pk=pk)
            .first()
        )
        if row is None or row.state != SendState.PENDING:
            return None
        started = row.call_started_at
        if started is not None and not call_abandoned(started):
            return None
        unknown = started is not None
        if not unknown:
            row.attempts += 1
            row.call_started_at = timezone.now()
            row.save(update_fields=["attempts", "call_started_at", "updated_at"])
    if unknown:
        mark_failed(model, pk, code=UNKNOWN_OUTCOME, text_en=UNKNOWN_TEXT, advice=UNKNOWN_ADVICE)
        return None
    if not row.vendor_account.enabled:
        mark_failed(
            model,
            pk,
            code="account_disabled",
            text_en=f"{row.vendor_account.name} was disabled before the vendor call.",
            advice="Enable the vendor account and send again.",
        )
        return None
    return row


def call_abandoned(started_at, *, now=None) -> bool:
    """Whether a vendor call started at `started_at` can no longer be in flight."""
    return started_at < (now or timezone.now()) - CALL_LEASE


def settle(model: type[Send], pk: int, **changes: Any) -> bool:
    """pending → the state in `changes`, and the send's outbox row done, in one
    transaction; False if the row was no longer pending."""
    with transaction.atomic():
        moved = bool(model.objects.filter(pk=pk, state=SendState.PENDING).update(**changes))
        if moved:
            for task_name in tasks_of(model):
                outbox.done(task=task_name, object_id=pk)
    return moved


def tasks_of(model: type[models.Model]) -> list[str]:
    """The task names (outbox work) of the kinds stored in `model`."""
    return [name for name, kind in KINDS.items() if kind.model is model]


def mark_sent(model: type[Send], pk: int, **fields: Any) -> bool:
    """pending → sent with the vendor's ids; False if the row was no longer pending."""
    now = timezone.now()
    return settle(model, pk, state=SendState.SENT, sent_at=now, updated_at=now, **fields)


def error_fields(
    error: e.VendorError | None = None,
    *,
    code: str = "",
    text: str = "",
    text_en: str = "",
    advice: str = "",
) -> dict[str, str]:
    """The error_* fields for a failure: the vendor's code and text, gloss, advice."""
    if error is not None:
        code = error.code or type(error).__name__
        text = error.message
        text_en = error.message_en or type(error).__name__
        advice = error.advice or default_advice(error)
        if unknown_outcome(error):
            code, text_en, advice = UNKNOWN_OUTCOME, f"{UNKNOWN_TEXT} ({error})", UNKNOWN_ADVICE
    return {
        "error_code": code[:32],
        "error_text": text,
        "error_text_en": text_en,
        "error_advice": advice,
    }


def mark_failed(model: type[Send], pk: int, error: e.VendorError | None = None, **kw: str) -> bool:
    """pending → failed, keeping the vendor's code, text, gloss and advice."""
    now = timezone.now()
    return settle(model, pk, state=SendState.FAILED, updated_at=now, **error_fields(error, **kw))


def unknown_outcome(error: e.VendorError) -> bool:
    """The send may have reached the vendor: a network failure after connecting, an
    undocumented 5xx, or an answer we could not read."""
    if isinstance(error, e.NetworkError | e.ResponseError):
        return True
    # A bare 5xx (vendors/base.py `_http_error`: the code is the HTTP status, or none).
    bare = not error.code or error.code == str(error.http_status)
    return isinstance(error, e.TemporaryError) and bare


def should_retry(client, error: e.VendorError, *, final_attempt: bool) -> bool:
    """Retry the task only on a documented "try again" vendor answer: the vendor did
    nothing, so a new call cannot double the send."""
    documented = client.error_map and (
        f"{error.http_status}/{error.code}" in client.error_map or error.code in client.error_map
    )
    return (
        error.retryable
        and not isinstance(error, e.NetworkError)
        and bool(documented)
        and not final_attempt
    )


def call_settled(model: type[models.Model], pk: int) -> None:
    """The vendor provably did not act on the started call: allow a new one."""
    model.objects.filter(pk=pk).update(call_started_at=None)


def retry_countdown(attempt: int) -> int:
    """Worker-level backoff on top of the client's own: 15 s, 30 s, 60 s ... 10 min."""
    return min(15 * 2 ** max(attempt - 1, 0), 600)


def run_single(
    kind: SendKind,
    pk: int,
    call: Callable[[Any, S], dict[str, Any]],
    *,
    final_attempt: bool = False,
) -> None:
    """Send a one-call kind (two-way call, voice code): `call(client, row)` makes the
    vendor call and returns the fields to save on success (call_sid, session_id ...)."""
    from accounts.selectors import vendor_client

    row = start_call(kind.model, pk)
    if row is None:
        return
    client = vendor_client(account=row.vendor_account)
    try:
        fields = call(client, row)
    except e.VendorError as exc:
        if should_retry(client, exc, final_attempt=final_attempt):
            call_settled(kind.model, pk)
            raise RetryLater(retry_countdown(row.attempts), exc) from exc
        mark_failed(kind.model, pk, exc)
        return
    mark_sent(kind.model, pk, call_started_at=None, **fields)


def default_advice(error: e.VendorError) -> str:
    """What an error class means for a send, where the vendor documents no advice."""
    advice = (
        (e.AuthError, "Check the vendor account's credentials."),
        (e.PermissionDenied, "The vendor refuses this account, application or number."),
        (e.InsufficientBalance, "Top up the vendor account."),
        (e.InvalidRequest, "Check the numbers and the content."),
        (e.NotFound, "The vendor does not know this account, sub-account or template."),
        (e.RateLimited, "The vendor kept asking to slow down; send again later."),
        (e.TemporaryError, "The vendor kept failing; send again later."),
        (e.OutboundRefused, "Nothing was sent: check the account's base URL."),
    )
    for cls, text in advice:
        if isinstance(error, cls):
            return text
    return "Read the vendor's text; contact the vendor if it persists."
