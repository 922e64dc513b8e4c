"""Use cases for privacy bindings: create (with X allocation), bind at the vendor,
release, expire. Views, the API and tasks call these.

This module is the public entry point of privacy's writes; the parts live in
- privacy.kinds       what each binding kind is (vendor, TTLs, inputs, vendor calls);
- privacy.validation  checking a request without locks;
- privacy.allocation  X selection, row locks, XLoad (concurrency notes there);
- privacy.transitions the state machine and its history rows (diagram there).
Names callers used to import from here (xload_sync, binding_for_idempotency_key)
are still importable from here.

Vendor calls are made outside any transaction, by workers (privacy.tasks), for
work recorded in the outbox (core/outbox.py) with the pending/releasing row; a lost
message or a killed worker is taken over once the worker's lease expires. No timer
fails a binding: a bind whose fate at the vendor is unknown is asked again.
- kinds whose bind is idempotent (igw: `reqid` is generated once per binding and
  sent on every attempt) are retried: a redo after a killed worker or a lost
  answer reuses the reqid, and the vendor answers with the binding it made.
- kinds whose bind is not (cyj: no idempotency key, and no API to look a binding
  up): we count attempts in a committed row before calling; a redo that finds an
  attempt already started marks the binding failed ("outcome unknown") rather
  than risk a second vendor binding, and such binds are never retried by the task
  (the client already retries what provably never reached the vendor). Such a
  vendor binding ends by itself at its end time (at most 60 minutes).

Release and expiry:
- igw AXB/XA release is a vendor call: active -> releasing (now) -> released
  (worker). A vendor "resource does not exist" (1300) means it is gone
  already: released.
- cyj documents no release API (`releases_locally`): release marks the binding
  released locally at once, and the vendor unbinds it by itself at EndMinute
  (<= 60 minutes). Until then allocation counts it on its X (pairing and cap),
  because the vendor refuses the same pair on that X.
- Expiry: igw ends AXB/XA bindings itself after ttl and cyj at EndMinute, so
  the beat job only marks rows expired locally; calling release would only
  earn a "resource does not exist" error. Our expires_at is computed from the
  moment the vendor answered (or, for a kind told its end time in the bind,
  from the attempt), never earlier than the vendor's own clock, so an X slot is
  never reused while the vendor still holds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import PrivacyNumber
from accounts.selectors import vendor_client
from core.phones import normalize_number
from privacy import kinds, rules
from privacy.allocation import xload_sync
from privacy.creation import IdempotencyConflict, binding_create, binding_create_or_replay
from privacy.models import Binding
from privacy.selectors import binding_for_idempotency_key
from privacy.tasks import outbox_add
from privacy.transitions import Actor, transition
from vendors.errors import NotFound, VendorError

__all__ = [
    "Actor",
    "IdempotencyConflict",
    "RetryLater",
    "binding_bind_at_vendor",
    "binding_create",
    "binding_create_or_replay",
    "binding_for_idempotency_key",
    "binding_mark_active",
    "binding_mark_failed",
    "binding_release",
    "binding_release_at_vendor",
    "binding_release_many",
    "bindings_expire_due",
    "retry_countdown",
    "vendor_client",
    "xload_sync",
]


class RetryLater(Exception):
    """The vendor call failed transiently; the task should retry after `countdown` seconds."""

    def __init__(self, countdown: int, error: VendorError) -> None:
        super().__init__(countdown, error)
        self.countdown = countdown
        self.error = error


# --------------------------------------------------------------------------- bind (worker)


def _start_attempt(binding_id: int) -> Binding | None:
    """Count the attempt in a committed row before the vendor call; None if nothing to do."""
    with transaction.atomic():
        binding = (
            Binding.objects.select_for_update(of=("self",))
            .select_related("vendor_account", "x_number")
            .filter(pk=binding_id)
            .first()
        )
        if binding is None or binding.state != Binding.State.PENDING:
            return None
        # Redelivered after a started non-idempotent call: the vendor may have bound it.
        outcome_unknown = not binding.spec.bind_idempotent and binding.attempts > 0
        if not outcome_unknown:
            binding.attempts += 1
            if binding.spec.end_time_in_bind:
                binding.expires_at = timezone.now() + timedelta(seconds=binding.ttl)
            binding.save(update_fields=["attempts", "expires_at", "updated_at"])
    if outcome_unknown:
        binding_mark_failed(
            binding_id=binding_id,
            code="unknown_outcome",
            text="绑定结果未知",
            text_en="A previous bind attempt was interrupted; its outcome is unknown.",
            advice=f"{binding.spec.label} bind has no idempotency key, so it was not repeated. "
            "If the vendor made the binding it ends by itself at its end time; "
            "create a new binding.",
        )
        return None
    return binding


def retry_countdown(attempt: int) -> int:
    """Worker-level backoff, on top of the client's own: 15 s, 30 s, 60 s, 120 s ..."""
    return min(15 * 2 ** max(attempt - 1, 0), 600)


def binding_bind_at_vendor(*, binding_id: int, final_attempt: bool = False) -> None:
    """Make the vendor binding for a pending row (worker). Raises RetryLater on weather."""
    binding = _start_attempt(binding_id)
    if binding is None:
        return
    if not binding.vendor_account.enabled:
        binding_mark_failed(
            binding_id=binding_id,
            code="account_disabled",
            text="",
            text_en=f"{binding.vendor_account.name} was disabled before the vendor call.",
            advice="Enable the vendor account and create the binding again.",
        )
        return
    try:
        result = kinds.bind(vendor_client(account=binding.vendor_account), binding)
    except VendorError as exc:
        retry = (
            exc.retryable
            and binding.spec.bind_idempotent
            and not final_attempt
            and binding.attempts < rules.MAX_BIND_ATTEMPTS
        )
        if retry:
            raise RetryLater(retry_countdown(binding.attempts), exc) from exc
        binding_mark_failed(binding_id=binding_id, error=exc)
        return
    binding_mark_active(
        binding_id=binding_id,
        vendor_binding_id=result.vendor_binding_id,
        vendor_x_number=result.x_number,
    )


def _vendor_x(binding: Binding, vendor_x_number: str) -> PrivacyNumber | None:
    """Our pool row for the number the vendor chose, if it is ours."""
    try:
        number = normalize_number(vendor_x_number)
    except ValidationError:
        return None
    return PrivacyNumber.objects.filter(
        number=number, vendor_account_id=binding.vendor_account_id
    ).first()


def binding_mark_active(
    *,
    binding_id: int,
    vendor_binding_id: str,
    vendor_x_number: str = "",
    actor: Actor = "worker",
) -> Binding | None:
    """pending -> active: keep the vendor's id; link a vendor-chosen number to our pool."""
    now = timezone.now()
    binding = Binding.objects.select_related("x_number").get(pk=binding_id)
    spec = binding.spec
    changes: dict = {"vendor_binding_id": vendor_binding_id or "", "activated_at": now}
    if not spec.end_time_in_bind:
        # igw counts ttl from its receipt of the request, which is before `now`.
        changes["expires_at"] = now + timedelta(seconds=binding.ttl) if binding.ttl else None
    reason = "vendor confirmed"
    if spec.vendor_picks_x and vendor_x_number and binding.x_number_id is None:
        x = _vendor_x(binding, vendor_x_number)
        if x is not None:
            changes["x_number"] = x
        else:
            reason = f"vendor chose {vendor_x_number}, which is not in our pool"
    move = {"allowed_from": (Binding.State.PENDING,), "to_state": Binding.State.ACTIVE}
    try:
        return transition(binding_id=binding_id, actor=actor, reason=reason, **move, **changes)
    except IntegrityError:
        # The vendor's number already pairs A or B locally: keep the binding, unlinked.
        changes.pop("x_number", None)
        return transition(
            binding_id=binding_id,
            actor=actor,
            reason=f"vendor chose {vendor_x_number}, which already pairs A or B here",
            **move,
            **changes,
        )


def binding_mark_failed(
    *,
    binding_id: int,
    error: VendorError | None = None,
    code: str = "",
    text: str = "",
    text_en: str = "",
    advice: str = "",
    actor: Actor = "worker",
) -> Binding | None:
    """pending -> failed, keeping the vendor's code, original text, English gloss, advice."""
    if error is not None:
        code = error.code or type(error).__name__
        text = error.message
        text_en = error.message_en or type(error).__name__
        advice = error.advice or _default_advice(error)
    return transition(
        binding_id=binding_id,
        allowed_from=(Binding.State.PENDING,),
        to_state=Binding.State.FAILED,
        actor=actor,
        reason=f"{code}: {text or text_en}",
        failure_code=code[:32],
        failure_text=text,
        failure_text_en=text_en,
        failure_advice=advice,
    )


def _default_advice(error: VendorError) -> str:
    # The vendors document almost no advice; say what the error class means for us.
    from vendors import errors as e

    if isinstance(error, e.AuthError):
        return "Check the vendor account's credentials."
    if isinstance(error, e.PermissionDenied):
        return "The vendor refuses this account or number; contact the vendor."
    if isinstance(error, e.InsufficientBalance):
        return "Top up the vendor account."
    if isinstance(error, e.Conflict):
        return "The vendor refuses this pairing on this X; create it on another X."
    if isinstance(error, e.InvalidRequest):
        return "Check the numbers and options."
    if isinstance(error, e.NotFound):
        return "The vendor does not know this X number; check the pool against the vendor's."
    if isinstance(error, e.RateLimited | e.TemporaryError):
        return "The vendor kept failing; create the binding again later."
    if isinstance(error, e.ResponseError):
        return "The vendor's answer was unreadable; check at the vendor before binding again."
    if isinstance(error, e.OutboundRefused):
        return "Nothing was sent: check the account's base URL, or have its host:port allowed."
    return "Read the vendor's text; contact the vendor if it persists."


# --------------------------------------------------------------------------- release


def _release_locally(binding: Binding, actor: Actor, reason: str) -> Binding:
    """For kinds without a release API: released here; the vendor ends it at its end time."""
    moved = transition(
        binding_id=binding.pk,
        allowed_from=(Binding.State.ACTIVE,),
        to_state=Binding.State.RELEASED,
        actor=actor,
        reason=(reason + "; " if reason else "") + binding.spec.local_release_note,
    )
    return moved or Binding.objects.get(pk=binding.pk)


def binding_release(*, binding: Binding, actor: Actor, reason: str = "") -> Binding:
    """Ask for release. igw: active -> releasing, a worker calls the vendor. cyj: released.

    Releasing a binding that is already releasing or ended changes nothing (the
    caller's goal is met); a pending binding cannot be released yet.
    """
    if binding.state == Binding.State.PENDING:
        raise ValidationError(
            {"state": "The binding is still pending at the vendor; release it once active."}
        )
    if binding.state != Binding.State.ACTIVE:
        return binding
    if binding.spec.releases_locally:
        return _release_locally(binding, actor, reason)
    if not binding.vendor_account.enabled:
        raise ValidationError(
            {
                "vendor_account": f"{binding.vendor_account.name} is disabled; enable it to "
                "release (a release is a vendor call)."
            }
        )
    with transaction.atomic():
        moved = transition(
            binding_id=binding.pk,
            allowed_from=(Binding.State.ACTIVE,),
            to_state=Binding.State.RELEASING,
            actor=actor,
            reason=reason or "release requested",
        )
        if moved is not None:
            outbox_add("binding_release_at_vendor", binding.pk)
    return moved or Binding.objects.get(pk=binding.pk)


def binding_release_many(
    *, bindings: QuerySet[Binding] | list[Binding], actor: Actor
) -> tuple[list[Binding], list[tuple[Binding, str]]]:
    """Release each binding on its own; returns (accepted, [(skipped, why)])."""
    done: list[Binding] = []
    skipped: list[tuple[Binding, str]] = []
    for binding in bindings:
        if binding.state != Binding.State.ACTIVE:
            skipped.append((binding, f"is {binding.get_state_display().lower()}"))
            continue
        try:
            done.append(binding_release(binding=binding, actor=actor, reason="bulk release"))
        except ValidationError as exc:
            skipped.append((binding, " ".join(exc.messages)))
    return done, skipped


def _released_from_releasing(binding_id: int, to_state: str, reason: str) -> None:
    transition(
        binding_id=binding_id,
        allowed_from=(Binding.State.RELEASING,),
        to_state=to_state,
        actor="worker",
        reason=reason,
    )


def binding_release_at_vendor(*, binding_id: int, final_attempt: bool = False) -> None:
    """Worker side of a vendor release. Raises RetryLater on weather."""
    binding = (
        Binding.objects.select_related("vendor_account", "x_number")
        .filter(pk=binding_id, state=Binding.State.RELEASING)
        .first()
    )
    if binding is None:
        return
    try:
        kinds.release(vendor_client(account=binding.vendor_account), binding)
    except NotFound as exc:
        why = f"vendor no longer had it ({exc.code}: {exc.message or exc.message_en})"
        _released_from_releasing(binding_id, Binding.State.RELEASED, why)
        return
    except VendorError as exc:
        if exc.retryable and not final_attempt:
            raise RetryLater(retry_countdown(1), exc) from exc
        _released_from_releasing(binding_id, Binding.State.ACTIVE, f"release refused: {exc}")
        return
    _released_from_releasing(binding_id, Binding.State.RELEASED, "vendor released it")


# --------------------------------------------------------------------------- beat


def bindings_expire_due(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Mark active/releasing bindings whose ttl has passed as expired. Returns how many.

    No vendor call: igw and cyj end their bindings themselves (see module docstring).
    """
    now = now or timezone.now()
    due = list(
        Binding.objects.filter(
            state__in=[Binding.State.ACTIVE, Binding.State.RELEASING], expires_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    count = 0
    for pk in due:
        moved = transition(
            binding_id=pk,
            allowed_from=(Binding.State.ACTIVE, Binding.State.RELEASING),
            to_state=Binding.State.EXPIRED,
            actor="beat",
            reason="ttl passed; the vendor ends the binding by itself",
        )
        count += moved is not None
    return count
