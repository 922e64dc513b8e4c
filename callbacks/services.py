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

The hot path's SQL is in hotsql.py (why: its docstring); `_apply` and the
upserts are in normalize.py, recording downloads in recordings.py (its public
functions are re-exported here, the app's one write API), text hygiene in text.py.

Records and events may arrive in any order and more than once: the first
creates the CallRecord, events only fill fields that are still empty and
never touch a record that has its CDR, and a second CDR for a call is a
duplicate (the first one stands).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import traceback as tb
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

import vendors
from accounts.models import VendorAccount
from accounts.selectors import vendor_client
from callbacks import conf, hotsql
from callbacks.models import CallbackNonce, Delivery
from callbacks.normalize import Policy, _apply, _validate_items
from callbacks.recordings import (
    DownloadResult,
    call_record_delete,
    recording_download,
    recording_enqueue,
    recording_playback_log,
    recording_sweep,
)
from callbacks.text import _text
from callbacks.webhooks import Inbound

__all__ = [
    "DownloadResult",
    "Policy",
    "call_record_delete",
    "callback_nonce_prune",
    "delivery_process",
    "delivery_receive",
    "delivery_refused_body",
    "delivery_refused_oversize",
    "delivery_replay",
    "delivery_replay_many",
    "recording_download",
    "recording_enqueue",
    "recording_playback_log",
    "recording_sweep",
    "replay_summary",
]

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome


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


NOT_REPLAYABLE = "not replayable"


def delivery_replay_many(
    *,
    deliveries: Iterable[Delivery],
    user: Any = None,
    skip_auth: bool = False,
    on_each: Callable[[Delivery], None] | None = None,
) -> dict[str, int]:
    """Replay each delivery in turn (the admin action, manage.py replay_deliveries).

    Returns how many ended in each outcome; one that is no longer replayable (say,
    replayed meanwhile by someone else) counts as NOT_REPLAYABLE and the rest go on.
    `on_each` sees every replayed delivery, e.g. to print it.
    """
    counts: dict[str, int] = {}
    for delivery in deliveries:
        try:
            replayed = delivery_replay(delivery=delivery, user=user, skip_auth=skip_auth)
        except ValidationError:
            counts[NOT_REPLAYABLE] = counts.get(NOT_REPLAYABLE, 0) + 1
            continue
        counts[replayed.outcome] = counts.get(replayed.outcome, 0) + 1
        if on_each is not None:
            on_each(replayed)
    return counts


def replay_summary(counts: dict[str, int]) -> str:
    """`delivery_replay_many`'s tally as one line: "1 accepted, 2 rejected_auth", or "nothing"."""
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "nothing"
