"""Writes of the sandbox: mirror console accounts, keep the simulated vendor's
state (sub-accounts, messages, bindings, calls), and play calls.

`play_call` is the heart: it fixes a call's outcome and times, builds the
vendor's callbacks with the vendor module (sandbox/<code>.py `callbacks`), and
POSTs them over real HTTP (sandbox/delivery.py).

CHOICES:
- Deliveries run synchronously when `sync=True` (tests, the sandbox_call
  command, the JSON API when asked) and otherwise in a daemon thread, which
  suits the demo's threaded runserver; either way every attempt is a
  SandboxDelivery row.  A background thread closes its own DB connection.
- Simulated calls have just ended when played: release time is now and the
  other times are counted back from it, so a CDR never describes the future.
- Numbers are kept in national form (a leading +86 / 86 stripped from 12+
  digit numbers) so "+8613800000001" and "13800000001" are the same party
  when bindings are compared; callbacks carry that national form.
- A recording exists only for answered calls that record: each vendor module's
  `records_by_default` says when (igw when the binding asked, record=1; ccp and
  cyj always; huawei never, a voice code).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from core.services import model_update
from sandbox import delivery, protocol, selectors
from sandbox.models import (
    SandboxAccount,
    SandboxBinding,
    SandboxCall,
    SandboxMessage,
    SandboxSubAccount,
)
from vendors.types import CallOutcome

logger = logging.getLogger("sandbox")

DIRECTIONS = ("a_to_b", "b_to_a")
DEFAULT_XA_CALLER = "13900001111"


class SandboxStateError(Exception):
    """A request the simulated vendor must refuse; vendor modules map `reason`
    to their documented code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "conflict", "capacity", "not_found", "no_number"
        self.message = message


def national(number: str) -> str:
    """Digits in national form: +8613800000001 / 8613800000001 -> 13800000001."""
    digits = number.strip().lstrip("+")
    if digits.startswith("86") and len(digits) >= 12:
        return digits[2:]
    return digits


def default_base_url() -> str:
    """Where the sandbox is reachable when no request told us (commands)."""
    return os.environ.get("SANDBOX_BASE_URL") or f"{settings.PUBLIC_BASE_URL}/sandbox"


vendor_module = protocol.vendor_module


# ---------------------------------------------------------------------- accounts


def ensure_sandbox_account(*, vendor_account: Any) -> SandboxAccount:
    """Mirror an accounts.VendorAccount: same vendor, credentials and app id,
    its X numbers, and its webhook URLs as the callback URLs."""
    from accounts.selectors import webhook_urls

    # Fields only one vendor has (ccp's platform MAC): its module's `mirror_fields`.
    mirror = getattr(vendor_module(vendor_account.vendor), "mirror_fields", None)
    account, _ = SandboxAccount.objects.update_or_create(
        vendor=vendor_account.vendor,
        account_id=vendor_account.account_id,
        defaults={
            "secret": vendor_account.secret,
            "app_id": vendor_account.app_id,
            "friendly_name": vendor_account.name[:100],
            "callback_urls": webhook_urls(account=vendor_account),
            "numbers": sorted({national(n.number) for n in vendor_account.numbers.all()}),
            **(mirror(vendor_account) if mirror is not None else {}),
        },
    )
    return account


def account_set_chaos(*, account: SandboxAccount, **fields: Any) -> SandboxAccount:
    """Update chaos/behaviour fields (SandboxAccount.SETTABLE_FIELDS)."""
    changed = model_update(account, fields=fields, allowed=SandboxAccount.SETTABLE_FIELDS)
    account.save(update_fields=[*changed, "updated_at"])
    return account


# ---------------------------------------------------------------------- ccp


def sub_account_create(*, account: SandboxAccount, friendly_name: str) -> SandboxSubAccount:
    return SandboxSubAccount.objects.create(
        account=account,
        sub_account_sid=secrets.token_hex(16),
        sub_token=secrets.token_hex(16),
        voip_account=f"8{secrets.randbelow(10**13):013d}",
        voip_password=secrets.token_urlsafe(9),
        friendly_name=friendly_name[:100],
    )


def message_create(
    *,
    account: SandboxAccount,
    kind: str,
    to: list[str],
    body: str = "",
    template_id: str = "",
    datas: list[str] | None = None,
    sub_account_sid: str = "",
) -> SandboxMessage:
    return SandboxMessage.objects.create(
        account=account,
        message_sid=secrets.token_hex(16),
        kind=kind,
        to=",".join(to),
        body=body,
        template_id=template_id,
        datas=datas or [],
        sub_account_sid=sub_account_sid,
    )


# ---------------------------------------------------------------------- calls


def new_call_id(vendor: str) -> str:
    """A call id shaped like the vendor's own (its module's `new_call_id`)."""
    shape = getattr(vendor_module(vendor), "new_call_id", None)
    return shape(timezone.now()) if shape is not None else secrets.token_hex(16)


def call_request(
    *,
    account: SandboxAccount,
    kind: str,
    caller: str,
    callee: str,
    user_data: str = "",
    params: dict[str, Any] | None = None,
    sandbox_base_url: str = "",
) -> SandboxCall:
    """A call the vendor API was asked to place (ccp callback, huawei voice code).

    It stays "requested" until played, at once in the background if the
    account has auto_play."""
    call = SandboxCall.objects.create(
        account=account,
        kind=kind,
        call_id=new_call_id(account.vendor),
        caller=national(caller),
        callee=national(callee),
        user_data=user_data[:512],
        params=params or {},
        sandbox_base_url=sandbox_base_url,
    )
    if account.auto_play:
        transaction.on_commit(lambda: play_call(call=call, sync=False))
    return call


def play_call(
    *,
    binding: SandboxBinding | None = None,
    call: SandboxCall | None = None,
    outcome: str = CallOutcome.ANSWERED,
    duration: int = 30,
    direction: str = "a_to_b",
    caller: str = "",
    record: bool | None = None,
    release_side: str = "",
    chaos: dict[str, Any] | None = None,
    sync: bool = True,
    base_url: str | None = None,
    retry_delays: Sequence[float] = delivery.DEFAULT_RETRY_DELAYS,
) -> SandboxCall:
    """Simulate a call and POST the vendor's documented callbacks.

    Give `binding` (a new call through an active binding) or `call` (a
    requested ccp callback / huawei voice code call).  `chaos` overrides the
    account's delivery chaos: delay_ms, duplicate, out_of_order,
    recording_late_seconds.  Raises ValueError for an impossible request.
    """
    if (binding is None) == (call is None):
        raise ValueError("give exactly one of binding or call")
    account = binding.account if binding is not None else call.account  # type: ignore[union-attr]
    module = vendor_module(account.vendor)
    outcome = str(outcome)
    _check_play(module, account.vendor, outcome=outcome, duration=duration, direction=direction)
    if binding is not None:
        call = _call_through(binding, direction=direction, caller=caller)
    elif call.status != SandboxCall.Status.REQUESTED:  # type: ignore[union-attr]
        raise ValueError(f"call {call.call_id} was already played")  # type: ignore[union-attr]
    assert call is not None
    merged = account.delivery_chaos() | {k: v for k, v in (chaos or {}).items() if v is not None}
    call.chaos = merged
    _settle(call, outcome=outcome, duration=duration, release_side=release_side, record=record)
    call.status = SandboxCall.Status.DELIVERING
    call.played_at = timezone.now()
    if base_url:
        call.sandbox_base_url = base_url.rstrip("/")
    elif not call.sandbox_base_url:
        call.sandbox_base_url = (binding.sandbox_base_url if binding else "") or default_base_url()
    call.save()
    items = module.callbacks(call, recording_url=recording_url(call))
    if sync:
        _deliver(call, items, merged, retry_delays)
    else:
        threading.Thread(
            target=_deliver_in_thread,
            args=(call.pk, items, merged, tuple(retry_delays)),
            name=f"sandbox-delivery-{call.pk}",
            daemon=True,
        ).start()
    return call


def _check_play(module: Any, vendor: str, *, outcome: str, duration: int, direction: str) -> None:
    """ValueError for a call the vendor's module cannot play."""
    if outcome not in module.OUTCOMES:
        raise ValueError(
            f"{vendor} cannot express outcome {outcome!r}; one of {', '.join(module.OUTCOMES)}"
        )
    if duration < 0:
        raise ValueError("duration must be >= 0")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")


def recording_url(call: SandboxCall) -> str:
    if not call.recorded:
        return ""
    return f"{call.sandbox_base_url}/recordings/{call.public_id}.wav"


def _call_through(binding: SandboxBinding, *, direction: str, caller: str) -> SandboxCall:
    if not selectors.binding_is_active(binding=binding):
        raise ValueError(f"binding {binding.pk} is not active")
    if binding.kind == SandboxBinding.Kind.XA:
        # XA: anyone dialling X reaches A.
        parties = (national(caller) or DEFAULT_XA_CALLER, binding.a_number)
    elif direction == "b_to_a":
        parties = (binding.b_number, binding.a_number)
    else:
        parties = (binding.a_number, binding.b_number)
    return SandboxCall.objects.create(
        account=binding.account,
        binding=binding,
        kind=SandboxCall.Kind.BINDING,
        call_id=new_call_id(binding.account.vendor),
        caller=parties[0],
        callee=parties[1],
        x_number=binding.x_number,
        user_data=binding.user_data,
        sandbox_base_url=binding.sandbox_base_url,
    )


def _settle(
    call: SandboxCall, *, outcome: str, duration: int, release_side: str, record: bool | None
) -> None:
    now = timezone.now().replace(microsecond=0)
    answered = outcome == CallOutcome.ANSWERED
    call.outcome = outcome
    call.release_at = now
    call.answer_at = None
    call.ring_at = None
    if answered:
        call.duration = duration
        call.answer_at = now - timedelta(seconds=duration)
        call.ring_at = call.answer_at - timedelta(seconds=4)
        call.begin_at = call.ring_at - timedelta(seconds=2)
        call.release_side = release_side or "caller"
    else:
        call.duration = 0
        ringing = {CallOutcome.NO_ANSWER: 30, CallOutcome.REJECTED: 6}.get(CallOutcome(outcome))
        if ringing:
            call.ring_at = now - timedelta(seconds=ringing)
            call.begin_at = call.ring_at - timedelta(seconds=2)
        else:
            call.begin_at = now - timedelta(seconds=3)
        call.release_side = release_side or "platform"
    wants = record if record is not None else _records_by_default(call)
    call.recorded = bool(answered and wants)
    late = int((call.chaos or {}).get("recording_late_seconds") or 0)
    call.recording_available_at = now + timedelta(seconds=late) if call.recorded else None


def _records_by_default(call: SandboxCall) -> bool:
    records = getattr(vendor_module(call.account.vendor), "records_by_default", None)
    return bool(records(call)) if records is not None else False


def _deliver(
    call: SandboxCall,
    items: list[delivery.Outgoing],
    chaos: dict[str, Any],
    retry_delays: Sequence[float],
) -> None:
    ok = delivery.send_all(call, items, chaos=chaos, retry_delays=retry_delays)
    call.status = SandboxCall.Status.DONE if ok else SandboxCall.Status.FAILED
    call.save(update_fields=["status"])


def _deliver_in_thread(
    call_pk: int,
    items: list[delivery.Outgoing],
    chaos: dict[str, Any],
    retry_delays: Sequence[float],
) -> None:
    close_old_connections()
    try:
        call = SandboxCall.objects.select_related("account").get(pk=call_pk)
        _deliver(call, items, chaos, retry_delays)
    except Exception:
        logger.exception("sandbox delivery thread for call %s failed", call_pk)
    finally:
        connection.close()


# ---------------------------------------------------------------------- bindings


def binding_create(
    *,
    account: SandboxAccount,
    kind: str,
    x_number: str,
    a_number: str,
    b_number: str = "",
    reqid: str = "",
    ttl: int = 0,
    expires_at: datetime | None = None,
    record: bool = False,
    user_data: str = "",
    params: dict[str, Any] | None = None,
    sandbox_base_url: str = "",
) -> tuple[SandboxBinding, bool]:
    """Create a binding, or return the one an earlier request with the same
    reqid made (created=False).  Raises SandboxStateError("conflict") when A
    or B already has an active binding on X (for XA: when X already
    transfers), ("capacity") when X is full."""
    x_number, a_number, b_number = national(x_number), national(a_number), national(b_number)
    if reqid:
        existing = SandboxBinding.objects.filter(account=account, reqid=reqid).first()
        if existing is not None:
            return existing, False
    if expires_at is None and ttl:
        expires_at = timezone.now() + timedelta(seconds=ttl)
    with transaction.atomic():
        # Serialize binding changes per account: the conflict check below must
        # see every committed binding, and two requests must not both pass it.
        SandboxAccount.objects.select_for_update().filter(pk=account.pk).first()
        _check_room(account, kind=kind, x_number=x_number, parties={a_number, b_number})
        try:
            with transaction.atomic():
                binding = SandboxBinding.objects.create(
                    account=account,
                    kind=kind,
                    subid=secrets.token_hex(12) if kind == SandboxBinding.Kind.AXB else "",
                    reqid=reqid,
                    x_number=x_number,
                    a_number=a_number,
                    b_number=b_number,
                    record=record,
                    user_data=user_data[:512],
                    params=params or {},
                    sandbox_base_url=sandbox_base_url,
                    expires_at=expires_at,
                )
        except IntegrityError:
            # The same reqid raced us and won: answer with its binding.
            return SandboxBinding.objects.get(account=account, reqid=reqid), False
    return binding, True


def _check_room(account: SandboxAccount, *, kind: str, x_number: str, parties: set[str]) -> None:
    """SandboxStateError unless X can take this binding (call under the account lock)."""
    active = selectors.active_bindings(account=account).filter(x_number=x_number)
    if kind == SandboxBinding.Kind.XA:
        if active.filter(kind=SandboxBinding.Kind.XA).exists():
            raise SandboxStateError("conflict", f"X {x_number} already has an XA transfer")
        return
    same_kind = active.exclude(kind=SandboxBinding.Kind.XA)
    for party in parties:
        if same_kind.filter(a_number=party).exists() or same_kind.filter(b_number=party).exists():
            raise SandboxStateError(
                "conflict", f"{party} already has an active binding on X {x_number}"
            )
    if same_kind.count() >= account.max_bindings_per_x:
        raise SandboxStateError(
            "capacity", f"X {x_number} holds {account.max_bindings_per_x} bindings"
        )


def binding_release(*, binding: SandboxBinding) -> SandboxBinding:
    """Release (idempotent: releasing a released binding changes nothing)."""
    if binding.state == SandboxBinding.State.ACTIVE:
        binding.state = SandboxBinding.State.RELEASED
        binding.released_at = timezone.now()
        binding.save(update_fields=["state", "released_at"])
    return binding


def allocate_number(*, account: SandboxAccount, parties: Sequence[str]) -> str:
    """A virtual number on which none of `parties` is bound (cyj auto-allocation).

    Uses the account's numbers when it has some, else invents 171 numbers."""
    parties = [national(p) for p in parties]
    busy = set(
        selectors.active_bindings(account=account)
        .filter(a_number__in=parties)
        .values_list("x_number", flat=True)
    ) | set(
        selectors.active_bindings(account=account)
        .filter(b_number__in=parties)
        .values_list("x_number", flat=True)
    )
    for number in account.numbers:
        if number not in busy:
            return number
    if account.numbers:
        raise SandboxStateError("no_number", "no virtual number is free for these parties")
    return f"171{secrets.randbelow(10**8):08d}"
