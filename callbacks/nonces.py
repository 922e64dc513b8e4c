"""Signed nonces of callback deliveries: claimed once, so a captured signature
cannot carry another body (DESIGN: huawei pushes), pruned once their window passed.

The inbox claims a delivery's nonce in the transaction that stores the delivery
(`claim`), so a delivery that rolls back does not spend it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

import vendors
from accounts.selectors import vendor_client
from callbacks import hotsql
from callbacks.models import CallbackNonce, Delivery
from callbacks.text import _text

_NONCE_KEY = ("vendor_account_id", "nonce")  # callbacks_nonce_account_nonce

# How far back a replay looks for an earlier use of its nonce; push windows are minutes.
_LOOKBACK = timedelta(days=1)

REUSED = (
    "Nonce already used by an earlier delivery with a different body "
    "(a captured signature re-sent with another body)"
)


@dataclass(frozen=True)
class NonceClaim:
    """A signed nonce to claim when the delivery is stored (see CallbackNonce)."""

    nonce: vendors.CallbackNonce
    enforce: bool  # require mode: a reused nonce rejects; verify mode: recorded only


def first_use_by_another_body(
    delivery: Delivery, claim: NonceClaim, *, replay: bool = False
) -> datetime | None:
    """Claim the delivery's nonce; when it was first used with ANOTHER body, or None.

    Call inside the transaction that stores the delivery.  A nonce seen before
    with the same body is the vendor retrying with the same headers (or a replay
    of this very delivery): fine, deduplication handles it.  A replay typically
    comes after the nonce row was pruned: it then looks for the earlier use
    among the stored deliveries (`_earlier_use`).
    """
    digest = hashlib.sha256(bytes(delivery.body)).hexdigest()
    row = CallbackNonce(
        vendor_account_id=delivery.vendor_account_id,
        nonce=_text(claim.nonce.value, 128),
        body_sha256=digest,
        expires_at=claim.nonce.expires_at,
    )
    if hotsql.insert_ignore(row, _NONCE_KEY) is not None:
        return _earlier_use(delivery, claim, digest) if replay else None
    seen = (
        CallbackNonce.objects.select_for_update()
        .filter(vendor_account_id=row.vendor_account_id, nonce=row.nonce)
        .first()
    )
    if seen is None or seen.body_sha256 == digest:
        return None  # pruned meanwhile, or the same body again
    if seen.expires_at < delivery.received_at:
        # Its window had passed when this one arrived: the old use proves
        # nothing (the Created check bounds reuse by itself).
        seen.body_sha256, seen.expires_at = digest, row.expires_at
        seen.save(update_fields=["body_sha256", "expires_at"])
        return None
    return seen.created_at


def _earlier_use(delivery: Delivery, claim: NonceClaim, digest: str) -> datetime | None:
    """When another authenticated delivery of the account, received before this
    one, used the same nonce with a different body; None if none did."""
    client = vendor_client(account=delivery.vendor_account, offline=True)
    candidates = (
        Delivery.objects.filter(
            vendor_account_id=delivery.vendor_account_id,
            kind__in=client.callback_kinds,
            authenticated=True,
            received_at__gte=delivery.received_at - _LOOKBACK,
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
