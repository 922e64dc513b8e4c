"""The callbacks inbox: receive, authenticate, store, normalize and replay vendor
deliveries.  The database is the record; the broker only rings the bell.

Arrival (`delivery_receive`, in the webhook request):

1. Authentication (`_authenticate`): the per-account IP allowlist, then the
   vendor client's `authenticate_callback` under its `callback_signature_mode`.
2. Parsing with the vendor client's `parse_callback` (InvalidPayload only;
   it also refuses implausible times, see vendors.base.check_times).
   1 and 2 run in memory (`_evaluate`): no network, no database, so a bad
   signature or a malformed body is still answered 401/400 at once.
3. The raw Delivery is INSERTed, with its rejection or as RECEIVED (queued for
   normalization); a signed nonce is claimed in the same transaction
   (callbacks.nonces: a nonce already used with another body turns the
   delivery into rejected_auth).  The vendor hears 2xx only after that commit,
   so nothing acknowledged is ever lost.  If the INSERT fails, the caller
   answers 503: nothing was acknowledged.

Normalization (`deliveries_normalize`, in a worker): claims up to a batch of
queued deliveries (SELECT ... FOR UPDATE SKIP LOCKED, so workers share the
queue), parses them again and applies them (callbacks.normalize: any order,
duplicates once) in ONE transaction, and marks them accepted or duplicate.  A
batch that fails is redone delivery by delivery under savepoints, so one bad
delivery is marked failed_processing with its traceback and the rest go on.
It is started after each arrival (`deliveries_normalize_soon`: coalesced,
at most one task per process per window) and by a beat sweeper, so a lost
task, a broker outage or a killed worker delays normalization, never loses it.

Replays (`delivery_replay`: page, admin, manage.py replay_deliveries) run 1-2
again on a stored row and apply it at once.  Any failure is kept by the one
failure recorder, `_record_failure`.

A body we will not take at all (too large, unreadable) is kept without its
bytes by `delivery_refuse`, through the same INSERT.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

import vendors
from accounts.models import VendorAccount
from accounts.selectors import vendor_client
from callbacks import conf, hotsql, nonces
from callbacks.models import Delivery
from callbacks.normalize import _validate_items, apply_delivery
from callbacks.queue import deliveries_normalize_soon
from callbacks.text import _text, failure_text
from callbacks.webhooks import Inbound

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome
Items = list[vendors.CallRecordData | vendors.CallEventData]


def delivery_receive(*, account: VendorAccount, kind: str, inbound: Inbound) -> Delivery:
    """Authenticate and parse a webhook delivery in memory, then store it raw:
    queued for normalization (RECEIVED) or with its rejection.  Must run outside
    atomic().

    Raises DatabaseError only when the raw row itself cannot be stored (the
    caller answers 503 and the vendor retries), AccountChanged when the account
    changed since it was read (nothing stored: read it again and retry); every
    other failure is an outcome on the returned row.
    """
    delivery = _new_delivery(account, kind, inbound, attempts=1)
    try:
        items, claim = _evaluate(delivery, inbound.headers)
    except Exception as exc:  # our bug in authentication or parsing: keep the bytes
        return _record_failure(delivery, exc, stored=False)
    if claim is None:
        _store(delivery)
    else:
        with transaction.atomic():
            if _nonce_refuses(delivery, claim, replay=False):
                items = None  # a reused nonce: rejected_auth is set
            _store(delivery)
    if items is not None:
        transaction.on_commit(deliveries_normalize_soon)
    return delivery


def is_queued(delivery: Delivery) -> bool:
    """Stored and waiting for the normalizer: the vendor may hear 2xx."""
    return delivery.outcome == Outcome.RECEIVED and delivery.authenticated


def delivery_refuse(
    *, account: VendorAccount, kind: str, inbound: Inbound, size: int | None, reason: str
) -> Delivery:
    """Keep a trace of a delivery whose body we could not take (too large,
    unreadable): the row without the body, rejected_invalid with `reason`."""
    delivery = _new_delivery(account, kind, inbound, body_size=size or 0)
    delivery.body = b""
    delivery.set_outcome(Outcome.REJECTED_INVALID, reason=reason)
    return _store(delivery)


def delivery_process(
    *, delivery: Delivery, headers: dict[str, str] | None = None, skip_auth: bool = False
) -> Delivery:
    """Authenticate, parse and apply a STORED delivery again (replays); record the
    outcome on it.

    `headers` are the live request headers (None on replay: the stored, redacted
    ones are used).  Never raises for a bad delivery or a processing failure.
    """
    delivery.attempts += 1
    return _reprocess(delivery, headers, skip_auth)


def _reprocess(
    delivery: Delivery, headers: dict[str, str] | None, skip_auth: bool = False
) -> Delivery:
    """Steps 1-2 again for a stored delivery, then apply it at once."""
    try:
        items, claim = _evaluate(delivery, headers, skip_auth)
        if items is None and claim is None:  # rejected: the outcome is set
            return _save(delivery)
        with transaction.atomic():
            # The stored nonce is checked again: this delivery's own claim has the
            # same body and passes; a forged body that lost the race stays refused.
            if claim is not None and _nonce_refuses(delivery, claim, replay=True):
                items = None
            if items is not None:
                apply_delivery(delivery, items)
            return _save(delivery)
    except Exception as exc:  # DB errors and our bugs alike: keep the row
        return _record_failure(delivery, exc, stored=True)


def _record_failure(delivery: Delivery, exc: Exception, *, stored: bool) -> Delivery:
    """Keep the raw delivery, failed_processing with the traceback.  Call from an
    `except` block, outside the failed transaction.

    A new delivery's INSERT was rolled back with the transaction: it is stored
    again first, as "received", then marked failed in a second statement; if the
    database fails in between, the row stays "received" (replay_deliveries
    --outcome received finds it); if that INSERT fails, DatabaseError reaches
    the caller (503).  A stored one keeps its previous outcome when even the
    UPDATE fails.
    """
    logger.exception("callbacks: a %s delivery failed processing", delivery.vendor)
    reason, trace = failure_text(exc)
    delivery.call_ids = []
    if not stored:
        delivery.pk = None
        delivery._state.adding = True
        delivery.outcome = Outcome.RECEIVED
        delivery.processed_at = None
        _store(delivery)
    try:
        _finish(delivery, Outcome.FAILED_PROCESSING, reason=reason, traceback=trace)
    except DatabaseError:
        logger.exception("callbacks: cannot record the failure of delivery %s", delivery.pk)
    return delivery


def _new_delivery(account: VendorAccount, kind: str, inbound: Inbound, **fields: Any) -> Delivery:
    """The raw delivery, in memory: stored by `_store` with its outcome."""
    fields.setdefault("body_size", len(inbound.body))
    return Delivery(
        vendor_account=account,
        vendor=account.vendor,
        kind=_text(kind, 32),
        source_ip=inbound.source_ip,
        url=_text(inbound.url, 2000),
        headers={_text(k, 100): _text(v, 2000) for k, v in inbound.stored_headers.items()},
        content_type=_text(inbound.content_type, 200),
        body=inbound.body,
        **fields,
    )


class AccountChanged(Exception):
    """The account changed after the webhook read it (from memory): nothing was
    stored; the caller reads the account again and starts over."""


def _store(delivery: Delivery) -> Delivery:
    """INSERT the in-memory delivery as it stands (outcome included), provided
    its account is still as it was read (hotsql.insert's `current`)."""
    if hotsql.insert(delivery, current=delivery.vendor_account) is None:
        raise AccountChanged(f"vendor account {delivery.vendor_account_id} changed")
    return delivery


def _save(delivery: Delivery) -> Delivery:
    """UPDATE a stored delivery's processing fields (the raw ones never change)."""
    delivery.save(update_fields=list(Delivery.PROCESSING_FIELDS))
    return delivery


def _finish(delivery: Delivery, outcome: str, **fields: Any) -> Delivery:
    """Set the outcome on a stored delivery and save it."""
    delivery.set_outcome(outcome, **fields)
    return _save(delivery)


# ---------------------------------------------------------- authentication


def _evaluate(
    delivery: Delivery, headers: dict[str, str] | None, skip_auth: bool = False
) -> tuple[Items | None, nonces.NonceClaim | None]:
    """Kind, authentication, parsing: in memory only.  The parsed items (None with
    the rejection set on `delivery`, not saved), and the nonce the delivery's
    signature used, to be claimed when it is stored: even a signed delivery we
    reject as invalid spends its nonce."""
    account = delivery.vendor_account
    client = vendor_client(account=account, offline=True)
    if delivery.kind not in client.callback_kinds:
        delivery.set_outcome(
            Outcome.REJECTED_INVALID,
            reason=f"unknown callback kind {delivery.kind!r} for {account.vendor}; "
            f"expected one of {', '.join(client.callback_kinds)}",
        )
        return None, None

    claim = None
    if not (skip_auth or delivery.authenticated):
        refusal, claim = _authenticate(delivery, client, headers)
        if refusal is not None:
            delivery.set_outcome(
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
        delivery.set_outcome(Outcome.REJECTED_INVALID, reason=str(exc))
        return None, claim
    return items, claim


@dataclass(frozen=True)
class _Refusal:
    reason: str
    expected: str = ""
    received: str = ""


def _authenticate(
    delivery: Delivery, client: vendors.VendorClient, headers: dict[str, str] | None
) -> tuple[_Refusal | None, nonces.NonceClaim | None]:
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
    return None, (nonces.NonceClaim(nonce, enforce=mode != "verify") if nonce else None)


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


def _nonce_refuses(delivery: Delivery, claim: nonces.NonceClaim, *, replay: bool) -> bool:
    """Claim the delivery's nonce; True when its reuse with another body rejected
    the delivery (require mode).  In verify mode the reuse is only recorded."""
    first_used = nonces.first_use_by_another_body(delivery, claim, replay=replay)
    if first_used is None:
        return False
    if not claim.enforce:
        delivery.signature = Delivery.Signature.INVALID
        delivery.reason = f"signature not valid (accepted, verify mode): {nonces.REUSED}"
        return False
    delivery.authenticated = False
    delivery.signature = Delivery.Signature.NOT_CHECKED
    delivery.set_outcome(
        Outcome.REJECTED_AUTH,
        reason=nonces.REUSED,
        auth_expected="a Nonce not used before within the signature window",
        auth_received=f"Nonce first used at {first_used:%Y-%m-%d %H:%M:%S} UTC",
        call_ids=[],
    )
    return True


# ------------------------------------------------------------------ replays


def delivery_replay(*, delivery: Delivery, user: Any = None, skip_auth: bool = False) -> Delivery:
    """Process a rejected or failed delivery again, after the account or code was fixed.

    A delivery that passed authentication on arrival is not re-checked; one that
    failed it is checked again against the stored headers and its arrival time
    (so a huawei Created window is judged as of arrival).  `skip_auth` is the
    operator vouching for it (needed for ccp, whose Authorization is stored
    redacted).
    """
    if delivery.body_pruned_at is not None:
        raise ValidationError(
            f"Delivery {delivery.pk} cannot be replayed: its body was pruned on "
            f"{delivery.body_pruned_at:%Y-%m-%d} (bodies are kept "
            f"{conf.delivery_body_retention_days()} days, DELIVERY_BODY_RETENTION_DAYS)."
        )
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
BODY_PRUNED = "body pruned, not replayable"


def delivery_replay_many(
    *,
    deliveries: Iterable[Delivery],
    user: Any = None,
    skip_auth: bool = False,
    on_each: Callable[[Delivery], None] | None = None,
) -> dict[str, int]:
    """Replay each delivery in turn (the admin action, manage.py replay_deliveries).

    Returns how many ended in each outcome; one that is no longer replayable (say,
    replayed meanwhile by someone else) counts as NOT_REPLAYABLE, one whose body
    the retention job emptied as BODY_PRUNED, and the rest go on.
    `on_each` sees every replayed delivery, e.g. to print it.
    """
    counts: dict[str, int] = {}
    for delivery in deliveries:
        if delivery.body_pruned_at is not None:
            counts[BODY_PRUNED] = counts.get(BODY_PRUNED, 0) + 1
            continue
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
