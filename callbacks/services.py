"""Writes of the callbacks app: the inbox, normalization, replays, recording downloads.

Pipeline of one delivery (anymail's validate → parse → normalized events,
dj-stripe's store-the-raw-bytes):

1. Authentication (`_authenticate`): the per-account IP allowlist, then the
   vendor client's `authenticate_callback` under its `callback_signature_mode`.
2. Parsing with the vendor client's `parse_callback` (InvalidPayload only;
   it also refuses implausible times, see vendors.base.check_times).
   1 and 2 run in memory (`_evaluate`): no network, no database.
3. `delivery_receive` stores the raw Delivery WITH its outcome, in one
   transaction that first claims the signed nonce, if any (`_nonce_claim`:
   a nonce already used with another body turns the delivery into
   rejected_auth); a rejection is then one INSERT; an accepted delivery holds `_apply`
   (CallRecord/CallEvent upserts: INSERT ... ON CONFLICT DO NOTHING on the
   unique constraints, then a row lock on the existing record to merge into
   it: never read-then-write) and the Delivery INSERT, so "accepted", the
   data and the raw bytes commit together.  The caller answers 2xx only
   after that commit.
4. Any exception in 3 rolls all of it back; the raw Delivery is then stored
   alone, failed_processing with the traceback, and the vendor gets a 5xx so
   it retries; `delivery_replay` (page, admin, manage.py replay_deliveries)
   runs 1-3 again later on the stored row (`delivery_process`).  If even the
   raw INSERT fails, the caller answers 503 and nothing was acknowledged.

The hot path's SQL is in hotsql.py (why: its docstring).

Records and events may arrive in any order and more than once: the first
creates the CallRecord, events only fill fields that are still empty and
never touch a record that has its CDR, and a second CDR for a call is a
duplicate (the first one stands).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import mimetypes
import traceback as tb
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

import vendors
from accounts.models import VendorAccount
from accounts.selectors import recording_policy, vendor_client
from callbacks import conf, hotsql, ssrf
from callbacks.models import CallbackNonce, CallEvent, CallRecord, Delivery, RecordingPlayback
from callbacks.webhooks import Inbound
from core.phones import normalize_number

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome
RecStatus = CallRecord.RecordingStatus

_MAX_INT = 2**31 - 1


class Policy:
    """Normalized behaviour that is the same for every vendor.  What differs per
    vendor (signature enforcement, recording source, acknowledgement) is a fact
    of its client class (vendors/base.py), read from there."""

    # Which CallRecord time an event fills while the CDR has not arrived.
    EVENT_TIME_FIELD: dict[str, str] = {
        "call_start": "begin_at",
        "callout": "begin_at",  # huawei: the platform starts dialling, our best begin time
        "alerting": "ring_at",
        "answer": "answer_at",
        "disconnect": "release_at",
    }


# --------------------------------------------------------------------- text hygiene


def _text(value: Any, limit: int | None = None) -> str:
    """A str PostgreSQL accepts: no NUL, no lone surrogates; cut to `limit`."""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit else text


def _json_safe(value: Any, depth: int = 0) -> Any:
    """Vendor `raw` dicts, cleaned the same way for jsonb (keys included)."""
    if depth > 40:
        return None
    if isinstance(value, dict):
        return {_text(k, 200): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool | None):
        return value
    if isinstance(value, int):
        # jsonb numerics are arbitrary precision, but keep absurd ints readable.
        return value if abs(value) < 10**30 else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return _text(value)


def _number(raw: str) -> str:
    """E.164 when the number parses, else the raw text (masked numbers, short codes)."""
    raw = _text(raw, 64).strip()
    if not raw:
        return ""
    return _normalized(raw)


@lru_cache(maxsize=4096)
def _normalized(raw: str) -> str:
    # A pure function of its input (fixed region, phonenumbers' static metadata),
    # and vendors repeat the same X numbers and callers: ~0.1 ms saved per hit.
    try:
        return normalize_number(raw)
    except ValidationError:
        return raw


# --------------------------------------------------------------------- inbox


def _new_delivery(account: VendorAccount, kind: str, inbound: Inbound, **fields: Any) -> Delivery:
    """The raw delivery, in memory: stored by `_store` with its outcome."""
    return Delivery(
        vendor_account=account,
        vendor=account.vendor,
        kind=_text(kind, 32),
        source_ip=inbound.source_ip,
        url=_text(inbound.url, 2000),
        headers={_text(k, 100): _text(v, 2000) for k, v in inbound.stored_headers.items()},
        content_type=_text(inbound.content_type, 200),
        body=inbound.body,
        body_size=len(inbound.body),
        **fields,
    )


def _store(delivery: Delivery) -> Delivery:
    """INSERT the in-memory delivery as it stands (outcome included)."""
    hotsql.insert(delivery)
    return delivery


def delivery_receive(*, account: VendorAccount, kind: str, inbound: Inbound) -> Delivery:
    """Authenticate, parse and apply a webhook delivery; store it raw with its outcome.
    Must run outside atomic().

    Authentication and parsing come first and touch neither the network nor the
    database.  Then, in the common case, ONE transaction holds the normalized
    rows and the raw delivery with its final outcome: they commit together, so
    a 2xx (sent after this returns) always means both are on disk, and a
    rejection is a single INSERT.  If anything in that transaction fails, it
    rolls back whole and the raw delivery is stored alone, failed_processing
    with the traceback (`_store_failure`): the vendor gets a 5xx and retries,
    and `delivery_replay` can run it again.

    Raises DatabaseError only when the raw row itself cannot be stored (the
    caller answers 503 and the vendor retries); every other failure is an
    outcome on the returned row.
    """
    delivery = _new_delivery(account, kind, inbound, attempts=1)
    try:
        items, nonce = _evaluate(delivery, inbound.headers)
    except Exception as exc:  # our bug in authentication or parsing: keep the bytes
        return _store_failure(delivery, exc)
    if items is None and nonce is None:  # rejected: the outcome is set, one INSERT
        return _store(delivery)
    try:
        with transaction.atomic():
            if nonce is not None and _nonce_claim(delivery, nonce):
                items = None  # a reused nonce: rejected_auth is set
            if items is None:
                return _store(delivery)
            changed, call_ids = _apply(account, items, delivery.received_at)
            _set_outcome(
                delivery, Outcome.ACCEPTED if changed else Outcome.DUPLICATE, call_ids=call_ids
            )
            return _store(delivery)
    except Exception as exc:  # DB errors and our bugs alike: keep the row, vendor retries
        return _store_failure(delivery, exc)


def _store_failure(delivery: Delivery, exc: Exception) -> Delivery:
    """Store the raw delivery alone, then mark it failed_processing.  Call from an
    `except` block, outside the failed transaction.

    Two statements on purpose: if the database fails again after the raw INSERT,
    the row stays "received" (replay_deliveries --outcome received finds it);
    if the INSERT itself fails, DatabaseError reaches the caller (503).
    """
    logger.exception("callbacks: a %s delivery failed processing", delivery.vendor)
    reason = _text(f"{type(exc).__name__}: {exc}", 2000)
    trace = _text(tb.format_exc(), 20000)
    delivery.pk = None  # if the failed transaction had inserted it
    delivery._state.adding = True
    delivery.outcome = Outcome.RECEIVED
    delivery.processed_at = None
    delivery.call_ids = []
    stored = _store(delivery)
    try:
        _finish(stored, Outcome.FAILED_PROCESSING, reason=reason, traceback=trace)
    except DatabaseError:
        logger.exception("callbacks: cannot record the failure of delivery %s", stored.pk)
    return stored


def delivery_refused_oversize(
    *, account: VendorAccount, kind: str, inbound: Inbound, size: int | None
) -> Delivery:
    """Keep a trace of a body over the cap (without the body): the vendor should know."""
    return delivery_refused_body(
        account=account,
        kind=kind,
        inbound=inbound,
        size=size,
        reason=f"body over the {conf.MAX_BODY_BYTES}-byte cap"
        + (f" ({size} bytes declared)" if size else "")
        + "; not stored",
    )


def delivery_refused_body(
    *, account: VendorAccount, kind: str, inbound: Inbound, size: int | None, reason: str
) -> Delivery:
    """Keep a trace of a delivery whose body we could not take (too large, unreadable)."""
    return Delivery.objects.create(
        vendor_account=account,
        vendor=account.vendor,
        kind=_text(kind, 32),
        source_ip=inbound.source_ip,
        url=_text(inbound.url, 2000),
        headers={_text(k, 100): _text(v, 2000) for k, v in inbound.stored_headers.items()},
        content_type=_text(inbound.content_type, 200),
        body=b"",
        body_size=size or 0,
        outcome=Outcome.REJECTED_INVALID,
        reason=reason,
        processed_at=timezone.now(),
    )


Items = list[vendors.CallRecordData | vendors.CallEventData]


@dataclass(frozen=True)
class _NonceClaim:
    """A signed nonce to claim when the delivery is stored (see CallbackNonce)."""

    nonce: vendors.CallbackNonce
    enforce: bool  # require mode: a reused nonce rejects; verify mode: recorded only


def _evaluate(
    delivery: Delivery, headers: dict[str, str] | None, skip_auth: bool = False
) -> tuple[Items | None, _NonceClaim | None]:
    """Kind, authentication, parsing: in memory only.  The parsed items (None with
    the rejection set on `delivery`, not saved), and the nonce the delivery's
    signature used, to be claimed with `_nonce_claim` when it is stored: even a
    signed delivery we reject as invalid spends its nonce."""
    account = delivery.vendor_account
    client = vendor_client(account=account, offline=True)
    if delivery.kind not in client.callback_kinds:
        _set_outcome(
            delivery,
            Outcome.REJECTED_INVALID,
            reason=f"unknown callback kind {delivery.kind!r} for {account.vendor}; "
            f"expected one of {', '.join(client.callback_kinds)}",
        )
        return None, None

    nonce = None
    if not (skip_auth or delivery.authenticated):
        refusal, nonce = _authenticate(delivery, client, headers)
        if refusal is not None:
            _set_outcome(
                delivery,
                Outcome.REJECTED_AUTH,
                reason=refusal.reason,
                auth_expected=refusal.expected,
                auth_received=refusal.received,
            )
            return None, None
        delivery.authenticated = True

    try:
        items = client.parse_callback(
            delivery.kind,
            body=bytes(delivery.body),
            content_type=delivery.content_type,
            now=delivery.received_at,  # a replay judges times as of arrival
        )
        _validate_items(items)
    except vendors.InvalidPayload as exc:
        _set_outcome(delivery, Outcome.REJECTED_INVALID, reason=str(exc))
        return None, nonce
    return items, nonce


_NONCE_KEY = ("vendor_account_id", "nonce")  # callbacks_nonce_account_nonce


def _nonce_claim(delivery: Delivery, claim: _NonceClaim, *, replay: bool = False) -> bool:
    """Claim the delivery's signed nonce; True when that rejected the delivery.

    Call inside the transaction that stores the delivery, so a rolled-back
    delivery does not spend its nonce.  A nonce seen before with the same body is
    the vendor retrying with the same headers (or a replay of this very
    delivery): fine, deduplication handles it.  With another body it is a
    captured header carrying a forged body: rejected_auth in require mode,
    recorded as an invalid signature in verify mode.  A replay comes after the
    nonce row was pruned, typically: it then looks for the earlier use among the
    stored deliveries (`_earlier_use`), which are kept for good.
    """
    digest = hashlib.sha256(bytes(delivery.body)).hexdigest()
    row = CallbackNonce(
        vendor_account_id=delivery.vendor_account_id,
        nonce=_text(claim.nonce.value, 128),
        body_sha256=digest,
        expires_at=claim.nonce.expires_at,
    )
    if hotsql.insert_ignore(row, _NONCE_KEY) is not None:
        first_used = _earlier_use(delivery, claim, digest) if replay else None
        if first_used is None:
            return False
    else:
        seen = (
            CallbackNonce.objects.select_for_update()
            .filter(vendor_account_id=row.vendor_account_id, nonce=row.nonce)
            .first()
        )
        if seen is None or seen.body_sha256 == digest:
            return False  # pruned meanwhile, or the same body again
        if seen.expires_at < delivery.received_at:
            # Its window had passed when this one arrived: the old use proves
            # nothing (the Created check bounds reuse by itself).
            seen.body_sha256, seen.expires_at = digest, row.expires_at
            seen.save(update_fields=["body_sha256", "expires_at"])
            return False
        first_used = seen.created_at
    reason = (
        "Nonce already used by an earlier delivery with a different body "
        "(a captured signature re-sent with another body)"
    )
    if not claim.enforce:
        delivery.signature = Delivery.Signature.INVALID
        delivery.reason = f"signature not valid (accepted, verify mode): {reason}"
        return False
    delivery.authenticated = False
    delivery.signature = Delivery.Signature.NOT_CHECKED
    _set_outcome(
        delivery,
        Outcome.REJECTED_AUTH,
        reason=reason,
        auth_expected="a Nonce not used before within the signature window",
        auth_received=f"Nonce first used at {first_used:%Y-%m-%d %H:%M:%S} UTC",
        call_ids=[],
    )
    return True


# How far back a replay looks for an earlier use of its nonce; push windows are minutes.
_NONCE_LOOKBACK = timedelta(days=1)


def _earlier_use(delivery: Delivery, claim: _NonceClaim, digest: str) -> datetime | None:
    """When another authenticated delivery of the account, received before this
    one, used the same nonce with a different body; None if none did."""
    client = vendor_client(account=delivery.vendor_account, offline=True)
    candidates = (
        Delivery.objects.filter(
            vendor_account_id=delivery.vendor_account_id,
            kind__in=client.callback_kinds,
            authenticated=True,
            received_at__gte=delivery.received_at - _NONCE_LOOKBACK,
            received_at__lte=delivery.received_at,
        )
        .exclude(pk=delivery.pk)
        .order_by("received_at", "id")
        .only("id", "kind", "headers", "received_at")  # bodies only for a match
    )
    for other in candidates.iterator(chunk_size=500):
        used = client.callback_nonce(other.kind, headers=dict(other.headers or {}))
        if used is None or used.value != claim.nonce.value:
            continue
        body = Delivery.objects.filter(pk=other.pk).values_list("body", flat=True).first()
        if hashlib.sha256(bytes(body or b"")).hexdigest() != digest:
            return other.received_at
    return None


def callback_nonce_prune(*, now: datetime | None = None) -> int:
    """Delete nonces whose signature window has passed; returns how many."""
    deleted, _ = CallbackNonce.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def delivery_process(
    *, delivery: Delivery, headers: dict[str, str] | None = None, skip_auth: bool = False
) -> Delivery:
    """Authenticate, parse and apply a STORED delivery again (replays); record the
    outcome on it.

    `headers` are the live request headers (None on replay: the stored, redacted
    ones are used).  Never raises for a bad delivery or a processing failure.
    """
    account = delivery.vendor_account
    delivery.attempts += 1
    items, nonce = _evaluate(delivery, headers, skip_auth)
    if items is None and nonce is None:
        return _finish(delivery, delivery.outcome)

    try:
        with transaction.atomic():
            # The stored nonce is checked again: this delivery's own claim has the
            # same body and passes; a forged body that lost the race stays refused.
            if nonce is not None and _nonce_claim(delivery, nonce, replay=True):
                items = None
            if items is None:
                _finish(delivery, delivery.outcome)
                return delivery
            changed, call_ids = _apply(account, items, delivery.received_at)
            _finish(
                delivery,
                Outcome.ACCEPTED if changed else Outcome.DUPLICATE,
                call_ids=call_ids,
            )
    except Exception as exc:  # DB errors and our bugs alike: keep the row, vendor retries
        logger.exception("callbacks: delivery %s failed processing", delivery.pk)
        try:
            _finish(
                delivery,
                Outcome.FAILED_PROCESSING,
                reason=_text(f"{type(exc).__name__}: {exc}", 2000),
                traceback=_text(tb.format_exc(), 20000),
            )
        except DatabaseError:
            # The database is gone: the raw row keeps its previous outcome.
            logger.exception("callbacks: cannot record the failure of delivery %s", delivery.pk)
    return delivery


@dataclass(frozen=True)
class _Refusal:
    reason: str
    expected: str = ""
    received: str = ""


def _authenticate(
    delivery: Delivery, client: vendors.VendorClient, headers: dict[str, str] | None
) -> tuple[_Refusal | None, _NonceClaim | None]:
    """(None, nonce to claim) if the delivery may proceed, else (refusal, None).
    Records the verify-mode verdict on `delivery`."""
    account = delivery.vendor_account
    allowlist = (account.extra or {}).get("callback_ip_allowlist") or []
    if allowlist and not _ip_allowed(delivery.source_ip, allowlist):
        refusal = _Refusal(
            "source IP is not in the account's callback_ip_allowlist",
            expected=", ".join(str(n) for n in allowlist),
            received=delivery.source_ip or "(unknown)",
        )
        return refusal, None
    mode = client.callback_signature_mode()
    replay = headers is None
    headers = headers if headers is not None else dict(delivery.headers)
    if replay and str(headers.get("Authorization", "")).startswith("[redacted"):
        refusal = _Refusal(
            "cannot re-check authentication: the stored Authorization is redacted "
            "(it embeds the account's token). Verify the delivery by other means and "
            "replay it with skip-auth.",
        )
        return refusal, None
    try:
        client.authenticate_callback(
            delivery.kind,
            headers=headers,
            body=bytes(delivery.body),
            url=delivery.url,
            now=delivery.received_at,
        )
    except vendors.CallbackAuthError as exc:
        refusal = _Refusal(
            _text(exc.reason, 2000), _text(exc.expected, 2000), _text(exc.received, 2000)
        )
        if mode == "verify":
            delivery.signature = Delivery.Signature.INVALID
            delivery.auth_expected = refusal.expected
            delivery.auth_received = refusal.received
            delivery.reason = f"signature not valid (accepted, verify mode): {refusal.reason}"
            return None, None
        return refusal, None
    delivery.signature = Delivery.Signature.VALID
    nonce = client.callback_nonce(delivery.kind, headers=headers)
    return None, (_NonceClaim(nonce, enforce=mode != "verify") if nonce else None)


def _ip_allowed(ip: str | None, allowlist: list) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    for item in allowlist:
        try:
            if address in ipaddress.ip_network(str(item), strict=False):
                return True
        except ValueError:
            continue  # validated on save; a bad entry just allows nothing
    return False


def _set_outcome(delivery: Delivery, outcome: str, **fields: Any) -> None:
    delivery.outcome = outcome
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.processed_at = timezone.now()


def _finish(delivery: Delivery, outcome: str, **fields: Any) -> Delivery:
    """Set the outcome on a stored delivery and save it."""
    _set_outcome(delivery, outcome, **fields)
    delivery.save(update_fields=list(Delivery.PROCESSING_FIELDS))
    return delivery


def delivery_replay(*, delivery: Delivery, user: Any = None, skip_auth: bool = False) -> Delivery:
    """Process a rejected or failed delivery again, after the account or code was fixed.

    A delivery that passed authentication on arrival is not re-checked; one that
    failed it is checked again against the stored headers and its arrival time
    (so a huawei Created window is judged as of arrival).  `skip_auth` is the
    operator vouching for it (needed for ccp, whose Authorization is stored
    redacted).
    """
    if not delivery.is_replayable:
        raise ValidationError(
            f"Delivery {delivery.pk} is {delivery.outcome}; only rejected or failed "
            "deliveries can be replayed."
        )
    delivery.replayed_at = timezone.now()
    delivery.replayed_by = user if getattr(user, "pk", None) else None
    delivery.reason = ""
    delivery.traceback = ""
    delivery.auth_expected = delivery.auth_received = ""
    delivery.signature = Delivery.Signature.NOT_CHECKED
    delivery.vendor_account = VendorAccount.objects.get(pk=delivery.vendor_account_id)
    return delivery_process(delivery=delivery, headers=None, skip_auth=skip_auth)


# --------------------------------------------------------------------- normalize


def _validate_items(items: list[vendors.CallRecordData | vendors.CallEventData]) -> None:
    """What the parsers accept but our columns cannot hold is invalid input too."""
    if not items:
        raise vendors.InvalidPayload("the delivery holds no record or event")
    for item in items:
        call_id = _text(item.call_id)
        if not call_id.strip():
            raise vendors.InvalidPayload("empty call id")
        if len(call_id) > 256:
            raise vendors.InvalidPayload(f"call id longer than 256 characters ({len(call_id)})")
        if isinstance(item, vendors.CallEventData) and item.kind not in Policy.EVENT_TIME_FIELD:
            raise vendors.InvalidPayload(f"unknown event kind {item.kind!r}")


def _apply(
    account: VendorAccount,
    items: list[vendors.CallRecordData | vendors.CallEventData],
    received_at: datetime,
) -> tuple[bool, list[str]]:
    """Upsert every item; True when anything new was stored."""
    changed = False
    call_ids: list[str] = []
    for item in items:
        if isinstance(item, vendors.CallRecordData):
            changed |= _cdr_apply(account, item, received_at)
        else:
            changed |= _event_apply(account, item, received_at)
        call_ids.append(_text(item.call_id, 256))
    return changed, call_ids


# The unique constraints that make upserts idempotent (models.py).
_RECORD_KEY = ("vendor_account_id", "call_id")  # callbacks_record_account_call
_EVENT_KEY = ("call_record_id", "kind", "occurred_at")  # callbacks_event_unique


def _record_insert(
    account: VendorAccount, call_id: str, fields: dict[str, Any], binding_ref: str, at: datetime
) -> CallRecord | None:
    """INSERT the call's record unless it exists (then None: lock it with
    `_record_locked`).  The binding is looked up in the same statement."""
    record = CallRecord(vendor_account=account, call_id=call_id, **fields)
    x_number = fields.get("x_number", "")
    binding = (
        hotsql.binding_params(account.pk, binding_ref, x_number, at)
        if binding_ref or x_number
        else None
    )
    if hotsql.insert_ignore(record, _RECORD_KEY, binding=binding) is None:
        return None
    return record


def _record_locked(account: VendorAccount, call_id: str) -> CallRecord:
    """The existing record of a call, locked until the transaction ends."""
    record = (
        CallRecord.objects.select_for_update()
        .filter(vendor_account=account, call_id=call_id)
        .first()
    )
    if record is None:  # deleted since our INSERT conflicted with it: retry later
        raise IntegrityError(f"call record {call_id!r} vanished while being updated")
    return record


def _binding_id(
    account: VendorAccount, vendor_binding_id: str, x_number: str, at: datetime
) -> int | None:
    """The binding a call belongs to, for merges (new records resolve it inside
    their INSERT): the one choice in hotsql._BINDING_SUBQUERY."""
    if not (vendor_binding_id or x_number):
        return None
    return hotsql.binding_for(account.pk, vendor_binding_id, x_number, at)


def _cdr_fields(account: VendorAccount, data: vendors.CallRecordData, now: datetime) -> dict:
    times = [t for t in (data.begin_at, data.ring_at, data.answer_at, data.release_at) if t]
    call_at = min(times) if times else now
    side = data.release_side if data.release_side in CallRecord.ReleaseSide.values else ""
    return {
        "vendor": account.vendor,
        "vendor_binding_id": _text(data.vendor_binding_id, 64),
        "caller": _number(data.caller),
        "callee": _number(data.callee),
        "x_number": _number(data.x_number),
        "outcome": str(data.outcome.value),
        "raw_code": _text(data.raw_code, 64),
        "raw_text": _text(data.raw_text, 256),
        "begin_at": data.begin_at,
        "ring_at": data.ring_at,
        "answer_at": data.answer_at,
        "release_at": data.release_at,
        "call_at": call_at,
        "duration": min(max(int(data.duration), 0), _MAX_INT),
        "release_side": side,
        "user_data": _text(data.user_data, 256),
        "raw": _json_safe(data.raw),
        "has_cdr": True,
        "cdr_received_at": now,
    }


def _cdr_apply(account: VendorAccount, data: vendors.CallRecordData, now: datetime) -> bool:
    fields = _cdr_fields(account, data, now)
    call_id = _text(data.call_id)
    recording = _recording_plan(account.vendor, data, now)
    record = _record_insert(
        account,
        call_id,
        {**fields, **recording[0]} if recording else fields,
        fields["vendor_binding_id"],
        fields["call_at"],
    )
    if record is None:
        record = _record_locked(account, call_id)
        if record.has_cdr:
            return False  # a repeated CDR: the first one stands
        # The record came from events: the CDR is authoritative, but keep an event's
        # time where the CDR has none (ccp CDRs carry no ring time, for example).
        fields["binding_id"] = _binding_id(
            account, fields["vendor_binding_id"], fields["x_number"], fields["call_at"]
        )
        for name, value in fields.items():
            if value in (None, "") and getattr(record, name) not in (None, ""):
                continue
            if name == "call_at":
                value = min(value, record.call_at)
            setattr(record, name, value)
        if record.recording_status != RecStatus.NONE:
            recording = None
        for name, value in recording[0].items() if recording else ():
            setattr(record, name, value)
        record.save()
    if recording:
        enqueue = partial(recording_enqueue, record_id=record.pk, countdown=recording[1])
        transaction.on_commit(enqueue)
    return True


def _event_apply(account: VendorAccount, data: vendors.CallEventData, now: datetime) -> bool:
    binding_ref = _text(data.vendor_binding_id, 64)
    partial_fields: dict[str, Any] = {
        "vendor": account.vendor,
        "caller": _number(data.caller),
        "callee": _number(data.callee),
        "x_number": _number(data.x_number),
        "vendor_binding_id": binding_ref,
        "user_data": _text(data.user_data, 256),
        Policy.EVENT_TIME_FIELD[data.kind]: data.occurred_at,
    }
    call_id = _text(data.call_id)
    record = _record_insert(
        account,
        call_id,
        {**partial_fields, "call_at": data.occurred_at},
        binding_ref,
        data.occurred_at,
    )
    created = record is not None
    if record is None:
        record = _record_locked(account, call_id)
    event = CallEvent(
        call_record=record,
        kind=data.kind,
        occurred_at=data.occurred_at,
        caller=partial_fields["caller"],
        callee=partial_fields["callee"],
        x_number=partial_fields["x_number"],
        state_code=_text(data.state_code, 32),
        state_text=_text(data.state_text, 256),
        user_data=partial_fields["user_data"],
        raw=_json_safe(data.raw),
        received_at=now,
    )
    if hotsql.insert_ignore(event, _EVENT_KEY) is None:
        return created  # the same event again
    if not created and not record.has_cdr:
        # Fill only what is still empty: an earlier event or the CDR knows better.
        if record.binding_id is None:
            partial_fields["binding_id"] = _binding_id(
                account, binding_ref, partial_fields["x_number"], data.occurred_at
            )
        updates = [
            name
            for name, value in partial_fields.items()
            if value not in (None, "") and getattr(record, name) in (None, "")
        ]
        for name in updates:
            setattr(record, name, partial_fields[name])
        if data.occurred_at < record.call_at:
            record.call_at = data.occurred_at
            updates.append("call_at")
        if updates:
            record.save(update_fields=[*updates, "updated_at"])
    return True


# --------------------------------------------------------------------- recordings


def _recording_plan(
    vendor: str, data: vendors.CallRecordData, now: datetime
) -> tuple[dict[str, Any], int] | None:
    """The recording fields a CDR sets on a record whose recording is still
    "none", and the delay before the download task; None if nothing to fetch."""
    client_cls = vendors.REGISTRY.get(vendor)
    source = client_cls.recording_source if client_cls is not None else "url"
    url = _text(data.recording_url, 4000).strip()
    wanted = (
        bool(url)
        if source == "url"
        else (data.outcome == vendors.CallOutcome.ANSWERED and data.duration > 0)
    )
    if not wanted:
        return None
    delay = conf.recording_delay_seconds()
    fields = {
        "recording_url": url,
        "recording_status": RecStatus.PENDING,
        "recording_next_at": now + timedelta(seconds=delay),
    }
    return fields, delay


def recording_enqueue(*, record_id: int, countdown: int = 0) -> bool:
    """Send the download task.  A broker outage is logged, not raised: the row is
    pending in the database and `recording_sweep` sends it again."""
    from callbacks.tasks import download_recording

    try:
        download_recording.apply_async(args=[record_id], countdown=max(countdown, 0), retry=False)
    except Exception:
        logger.warning("callbacks: cannot enqueue recording %s; the sweeper will", record_id)
        return False
    return True


@dataclass(frozen=True)
class DownloadResult:
    status: str  # a RecordingStatus value, or "skipped" when not due / not ours
    retry_in: int | None = None  # seconds, when the task should come back
    error: str = ""


_SNIFF: tuple[tuple[bytes, int, str], ...] = (
    (b"RIFF", 0, "audio/wav"),  # checked with WAVE at offset 8 below
    (b"ID3", 0, "audio/mpeg"),
    (b"#!AMR", 0, "audio/amr"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
)


def _sniff_audio(head: bytes) -> str:
    """Recognize audio by its magic bytes (vendors often say octet-stream)."""
    for magic, offset, ctype in _SNIFF:
        if head[offset : offset + len(magic)] == magic:
            if ctype == "audio/wav" and head[8:12] != b"WAVE":
                continue
            return ctype
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync without an ID3 tag
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    return ""


# The stdlib's table knows none of audio/wav, audio/amr, audio/wave: a recording saved
# as ".bin" would not play from a download or in most file managers.
_AUDIO_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/amr": ".amr",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
}


def _audio_extension(ctype: str, head: bytes) -> str:
    """The file name's extension: from the stored type, else from the bytes."""
    for candidate in (ctype, _sniff_audio(head)):
        ext = _AUDIO_EXTENSIONS.get(candidate) or mimetypes.guess_extension(candidate or "x/x")
        if ext:
            return ext
    return ".audio"


def _audio_type(declared: str, head: bytes) -> str:
    """The content type to store, or "" to refuse the file.

    audio/* is trusted as declared.  application/octet-stream (or nothing) is
    accepted only when the bytes are recognizably audio: file extensions in a
    vendor's URL prove nothing, magic bytes do.
    """
    if declared.startswith("audio/"):
        return declared
    if declared in ("", "application/octet-stream", "binary/octet-stream"):
        return _sniff_audio(head)
    return ""


def _recording_url(record: CallRecord) -> str:
    client_cls = vendors.REGISTRY.get(record.vendor)
    if client_cls is not None and client_cls.recording_source == "api":
        client = vendor_client(account=record.vendor_account)
        return client.fetch_recording(call_identifier=record.call_id).url
    return record.recording_url


def recording_download(*, record_id: int, now: datetime | None = None) -> DownloadResult:
    """Download one pending recording into default storage, under the SSRF guard.

    Claims the row first (pending and due → downloading, one UPDATE), so a
    duplicated task message or the sweeper racing a retry does nothing.
    """
    now = now or timezone.now()
    claimed = CallRecord.objects.filter(
        Q(recording_next_at__isnull=True) | Q(recording_next_at__lte=now),
        pk=record_id,
        recording_status=RecStatus.PENDING,
    ).update(
        recording_status=RecStatus.DOWNLOADING,
        recording_claimed_at=now,
        recording_attempts=F("recording_attempts") + 1,
    )
    if not claimed:
        return DownloadResult("skipped")
    record = CallRecord.objects.select_related("vendor_account").get(pk=record_id)
    try:
        url = _recording_url(record)
        fetched = ssrf.fetch(
            url,
            policy=recording_policy(account=record.vendor_account),
            max_bytes=conf.recording_max_bytes(),
            timeout=conf.recording_timeout_seconds(),
        )
    except ssrf.FetchError as exc:
        return _recording_failed(record, str(exc), permanent=exc.permanent, now=now)
    except vendors.VendorError as exc:
        return _recording_failed(record, str(exc), permanent=not exc.retryable, now=now)
    with fetched.file:
        head = fetched.file.read(16)
        fetched.file.seek(0)
        ctype = _audio_type(fetched.content_type, head)
        if not ctype:
            return _recording_failed(
                record,
                f"not audio: Content-Type {fetched.content_type or '(none)'!r} and the "
                "bytes are no known audio format",
                permanent=True,
                now=now,
            )
        ext = _audio_extension(ctype, head)
        path = (
            f"recordings/{record.vendor_account_id}/{record.call_at:%Y/%m}/"
            f"{record.pk}-{fetched.sha256[:16]}{ext}"
        )
        name = default_storage.save(path, File(fetched.file, name=path))
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status=RecStatus.DOWNLOADED,
        recording_file=name,
        recording_size=fetched.size,
        recording_sha256=fetched.sha256,
        recording_content_type=ctype,
        recording_last_error="",
        recording_next_at=None,
    )
    return DownloadResult(RecStatus.DOWNLOADED)


def _link_start(record: CallRecord) -> datetime:
    """When the recording link's lifetime started: the end of the call, unless the
    vendor's time is implausible (then when we first heard of the call).  Rows
    stored before times were bounded may hold 9999-12-31, where adding the
    lifetime overflowed and the task crashed and looped."""
    start = record.release_at or record.call_at
    heard = record.cdr_received_at or record.first_seen_at
    if not vendors.EARLIEST_CALL_TIME <= start <= heard + vendors.MAX_CLOCK_AHEAD:
        return heard
    return start


def _recording_failed(
    record: CallRecord, error: str, *, permanent: bool, now: datetime
) -> DownloadResult:
    attempts = record.recording_attempts
    lifetime_end = _link_start(record) + timedelta(hours=conf.recording_link_lifetime_hours())
    retry_in = conf.recording_backoff_seconds(attempts)
    out_of_time = now + timedelta(seconds=retry_in) > lifetime_end
    if permanent:
        status, retry = RecStatus.FAILED, None
    elif attempts >= conf.recording_max_attempts() or out_of_time:
        # A link that answered 403/404/410 until the end is gone, not broken.
        gone = "HTTP 403" in error or "HTTP 404" in error or "HTTP 410" in error
        status, retry = (RecStatus.EXPIRED if gone or out_of_time else RecStatus.FAILED), None
    else:
        status, retry = RecStatus.PENDING, retry_in
    CallRecord.objects.filter(pk=record.pk).update(
        recording_status=status,
        recording_last_error=_text(f"attempt {attempts}: {error}", 2000),
        recording_next_at=now + timedelta(seconds=retry) if retry is not None else None,
    )
    return DownloadResult(status, retry, error)


def recording_sweep(*, now: datetime | None = None) -> list[int]:
    """Re-send downloads whose task message was lost; free claims of dead workers.

    Returns the ids enqueued.  Safe to run any time: the claim in
    `recording_download` makes duplicates harmless.
    """
    now = now or timezone.now()
    stale = now - timedelta(minutes=conf.recording_stale_minutes())
    overdue = now - timedelta(seconds=conf.recording_sweep_grace_seconds())
    # A claim this old belongs to a worker that died mid-download: due again at once.
    CallRecord.objects.filter(
        recording_status=RecStatus.DOWNLOADING, recording_claimed_at__lt=stale
    ).update(recording_status=RecStatus.PENDING, recording_next_at=overdue)
    ids = list(
        CallRecord.objects.filter(
            recording_status=RecStatus.PENDING, recording_next_at__lte=overdue
        )
        .order_by("recording_next_at")
        .values_list("pk", flat=True)[:500]
    )
    for record_id in ids:
        recording_enqueue(record_id=record_id)
    return ids


def call_record_delete(*, record: CallRecord) -> None:
    """Delete a call record (administrators, e.g. one with nonsense times) with its
    events and playback audit; its recording file goes once the delete commits.
    The deliveries it came from stay in the inbox and can be replayed."""
    name = record.recording_file.name if record.recording_file else ""
    with transaction.atomic():
        record.delete()
        if name:
            transaction.on_commit(partial(_delete_file, name))


def _delete_file(name: str) -> None:
    try:
        default_storage.delete(name)
    except OSError:
        logger.warning("callbacks: cannot delete recording file %s", name)


def recording_playback_log(
    *, record: CallRecord, user: Any, byte_range: str, status_code: int
) -> RecordingPlayback:
    return RecordingPlayback.objects.create(
        call_record=record,
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "",
        range=_text(byte_range, 100),
        status_code=status_code,
    )
