"""The callbacks inbox: receive, authenticate, store and replay vendor deliveries.

Pipeline of one delivery (anymail's validate → parse → normalized events,
dj-stripe's store-the-raw-bytes):

1. Authentication (`_authenticate`): the per-account IP allowlist, then the
   vendor client's `authenticate_callback` under its `callback_signature_mode`.
2. Parsing with the vendor client's `parse_callback` (InvalidPayload only;
   it also refuses implausible times, see vendors.base.check_times).
   1 and 2 run in memory (`_evaluate`): no network, no database.
3. `_take` stores the Delivery WITH its outcome, in one transaction that first
   claims the signed nonce, if any (callbacks.nonces: a nonce already used
   with another body turns the delivery into rejected_auth); a rejection is
   then one INSERT; an accepted delivery holds the CallRecord/CallEvent
   upserts (callbacks.normalize) and the Delivery row, so "accepted", the data
   and the raw bytes commit together.  The caller answers 2xx only after that
   commit.
4. Any exception in 1-3 rolls all of it back, and `_record_failure` (the one
   failure recorder) keeps the raw row, failed_processing with the traceback;
   the vendor gets a 5xx so it retries, and `delivery_replay` (page, admin,
   manage.py replay_deliveries) runs 1-3 again later on the stored row.  If
   even the raw INSERT fails, the caller answers 503: nothing was acknowledged.

A body we will not take at all (too large, unreadable) is kept without its
bytes by `delivery_refuse`, through the same INSERT.
"""

from __future__ import annotations

import ipaddress
import logging
import traceback as tb
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

import vendors
from accounts.models import VendorAccount
from accounts.selectors import vendor_client
from callbacks import hotsql, nonces
from callbacks.models import Delivery
from callbacks.normalize import _apply, _validate_items
from callbacks.text import _text
from callbacks.webhooks import Inbound

logger = logging.getLogger(__name__)

Outcome = Delivery.Outcome
Items = list[vendors.CallRecordData | vendors.CallEventData]


def delivery_receive(*, account: VendorAccount, kind: str, inbound: Inbound) -> Delivery:
    """Authenticate, parse and apply a webhook delivery; store it raw with its
    outcome.  Must run outside atomic().

    Raises DatabaseError only when the raw row itself cannot be stored (the
    caller answers 503 and the vendor retries); every other failure is an
    outcome on the returned row.
    """
    delivery = _new_delivery(account, kind, inbound, attempts=1)
    return _take(delivery, inbound.headers)


def delivery_refuse(
    *, account: VendorAccount, kind: str, inbound: Inbound, size: int | None, reason: str
) -> Delivery:
    """Keep a trace of a delivery whose body we could not take (too large,
    unreadable): the row without the body, rejected_invalid with `reason`."""
    delivery = _new_delivery(account, kind, inbound, body_size=size or 0)
    delivery.body = b""
    _set_outcome(delivery, Outcome.REJECTED_INVALID, reason=reason)
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
    return _take(delivery, headers, skip_auth)


def _take(delivery: Delivery, headers: dict[str, str] | None, skip_auth: bool = False) -> Delivery:
    """Steps 1-4 for a new delivery (INSERT) or a stored one (UPDATE)."""
    stored = not delivery._state.adding
    try:
        items, claim = _evaluate(delivery, headers, skip_auth)
        if items is None and claim is None:  # rejected: the outcome is set
            return _save(delivery, stored)
        with transaction.atomic():
            if claim is not None and _nonce_refuses(delivery, claim, replay=stored):
                items = None  # a reused nonce: rejected_auth is set
            if items is not None:
                changed, call_ids = _apply(delivery.vendor_account, items, delivery.received_at)
                outcome = Outcome.ACCEPTED if changed else Outcome.DUPLICATE
                _set_outcome(delivery, outcome, call_ids=call_ids)
            return _save(delivery, stored)
    except Exception as exc:  # DB errors and our bugs alike: keep the row, vendor retries
        return _record_failure(delivery, exc, stored=stored)


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
    reason = _text(f"{type(exc).__name__}: {exc}", 2000)
    trace = _text(tb.format_exc(), 20000)
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


def _store(delivery: Delivery) -> Delivery:
    """INSERT the in-memory delivery as it stands (outcome included)."""
    hotsql.insert(delivery)
    return delivery


def _save(delivery: Delivery, stored: bool) -> Delivery:
    if not stored:
        return _store(delivery)
    delivery.save(update_fields=list(Delivery.PROCESSING_FIELDS))
    return delivery


def _set_outcome(delivery: Delivery, outcome: str, **fields: Any) -> None:
    delivery.outcome = outcome
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.processed_at = timezone.now()


def _finish(delivery: Delivery, outcome: str, **fields: Any) -> Delivery:
    """Set the outcome on a stored delivery and save it."""
    _set_outcome(delivery, outcome, **fields)
    return _save(delivery, stored=True)


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
        _set_outcome(
            delivery,
            Outcome.REJECTED_INVALID,
            reason=f"unknown callback kind {delivery.kind!r} for {account.vendor}; "
            f"expected one of {', '.join(client.callback_kinds)}",
        )
        return None, None

    claim = None
    if not (skip_auth or delivery.authenticated):
        refusal, claim = _authenticate(delivery, client, headers)
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
    _set_outcome(
        delivery,
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
