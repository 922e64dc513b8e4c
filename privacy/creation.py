"""The create use case: validate, allocate or lock an X, write a pending binding
and its bind in the outbox; with an Idempotency-Key, replay the binding a key already made.

privacy.services re-exports binding_create, binding_create_or_replay and
IdempotencyConflict: callers import them from there.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import PrivacyNumber, VendorAccount
from privacy import rules, selectors
from privacy.allocation import allocate, load_add, lock_chosen
from privacy.models import Binding
from privacy.tasks import outbox_add
from privacy.transitions import record
from privacy.validation import BindingRequest, clean_request

logger = logging.getLogger(__name__)

# Explicit X allocations that hit a unique index race are tried again this often.
ALLOCATION_ATTEMPTS = 5


class IdempotencyConflict(Exception):
    """An Idempotency-Key already names a binding made from a different request."""

    def __init__(self, binding: Binding) -> None:
        super().__init__(binding.pk)
        self.binding = binding


def _same_request(binding: Binding, req: BindingRequest) -> bool:
    return (
        binding.kind == req.kind
        and binding.vendor_account_id == req.account.pk
        and binding.a_number == req.a_number
        and binding.b_number == req.b_number
        and (req.x_number is None or binding.x_number_id == req.x_number.pk)
    )


def binding_create(**kwargs) -> Binding:
    """`binding_create_or_replay` for callers that do not care whether a key replayed."""
    binding, _ = binding_create_or_replay(**kwargs)
    return binding


def binding_create_or_replay(
    *,
    kind: str,
    vendor_account: VendorAccount | None,
    a_number: str,
    b_number: str = "",
    x_number: PrivacyNumber | str | None = None,
    area_code: str = "",
    ttl: int | None = None,
    record: bool = False,
    display: str = "",
    direct: int | None = None,
    anucode: str = "",
    ansanu: str = "",
    user_data: str = "",
    created_by: AbstractBaseUser | None = None,
    idempotency_key: str = "",
) -> tuple[Binding, bool]:
    """Validate, allocate an X when none is given, write a pending binding, enqueue the bind.

    Returns (binding, created). Raises ValidationError (field errors, nothing
    written) or IdempotencyConflict. With an `idempotency_key` already used by
    `created_by` for the same request, returns (that binding, False) and writes
    nothing. The key is unique per user in the database, so two racing requests
    with one key make one binding: the loser's insert waits for the winner's
    commit, fails, and is answered with the winner's binding.
    """
    req = clean_request(
        kind=kind,
        vendor_account=vendor_account,
        a_number=a_number,
        b_number=b_number,
        x_number=x_number,
        area_code=area_code,
        ttl=ttl,
        record=record,
        display=display,
        direct=direct,
        anucode=anucode,
        ansanu=ansanu,
        user_data=user_data,
    )
    key = (idempotency_key or "").strip()[:128] if created_by is not None else ""
    existing = selectors.binding_for_idempotency_key(user=created_by, key=key)
    if existing is not None:
        return _replay(existing, req), False
    return _create(req, created_by, key)


def _vendor_picks(req: BindingRequest) -> bool:
    """The vendor chooses X: a kind that allows it, no X given, and no pool of our own."""
    return (
        req.spec.vendor_picks_x
        and req.x_number is None
        and not PrivacyNumber.objects.filter(vendor_account=req.account).exists()
    )


def _create(
    req: BindingRequest, created_by: AbstractBaseUser | None, key: str
) -> tuple[Binding, bool]:
    cap = rules.max_bindings_per_x(req.account)
    vendor_picks = _vendor_picks(req)
    exclude: set[int] = set()
    for _ in range(ALLOCATION_ATTEMPTS):
        x = None
        try:
            with transaction.atomic():
                if req.x_number is not None:
                    x = lock_chosen(req, cap)
                elif not vendor_picks:
                    x = allocate(req, cap, exclude)
                binding = _insert(req, x, created_by, key)
                outbox_add("binding_bind_at_vendor", binding.pk)
                return binding, True
        except (IntegrityError, ValidationError) as exc:
            replayed = _after_failed_insert(exc, req, created_by, key)
            if replayed is not None:
                return replayed, False
            # A concurrent commit on the chosen X slipped past our snapshot: try another.
            logger.info("binding allocation raced on an X, retrying: %s", exc)
            if x is not None:
                exclude.add(x.pk)
    raise ValidationError({"x_number": "Could not allocate an X number; try again."})


def _after_failed_insert(
    exc: IntegrityError | ValidationError,
    req: BindingRequest,
    created_by: AbstractBaseUser | None,
    key: str,
) -> Binding | None:
    """The replayed binding if a twin request won; raise if the failure is final; else None.

    A twin request with this key may have committed since the first look-up: then
    it, not the X, is why this attempt failed (its binding now pairs A and B on
    the only X, or holds the key). Both show in a fresh query.
    """
    existing = selectors.binding_for_idempotency_key(user=created_by, key=key)
    if existing is not None:
        return _replay(existing, req)
    if isinstance(exc, ValidationError):
        raise exc
    if req.x_number is not None:
        raise ValidationError({"x_number": _integrity_text(exc)}) from exc
    return None


def _replay(existing: Binding, req: BindingRequest) -> Binding:
    if not _same_request(existing, req):
        raise IdempotencyConflict(existing)
    return existing


def _integrity_text(exc: IntegrityError) -> str:
    text = str(exc)
    for constraint in Binding._meta.constraints:
        if constraint.name in text and getattr(constraint, "violation_error_message", None):
            return str(constraint.violation_error_message)
    return "The X number cannot take this binding now."


def _insert(
    req: BindingRequest, x: PrivacyNumber | None, created_by: AbstractBaseUser | None, key: str
) -> Binding:
    now = timezone.now()
    with transaction.atomic():  # a savepoint: an IntegrityError leaves the outer block usable
        binding = Binding.objects.create(
            kind=req.kind,
            vendor_account=req.account,
            x_number=x,
            a_number=req.a_number,
            b_number=req.b_number,
            area_code=req.area_code,
            ttl=req.ttl,
            # Provisional, so "expiring soon" works for pending rows; reset on activation.
            expires_at=now + timedelta(seconds=req.ttl) if req.ttl else None,
            record=req.record,
            display=req.display,
            direct=req.direct,
            anucode=req.anucode,
            ansanu=req.ansanu,
            user_data=req.user_data,
            client_idempotency_key=key,
            created_by=created_by,
        )
        if x is not None:
            load_add(x.pk, req.account.pk, +1)
        record(binding, "", Binding.State.PENDING, created_by or "api", "created")
    return binding
