"""Writes for privacy bindings: create (with X allocation), bind at the vendor,
release, expire, and the sweep of stuck rows. Views, the API and tasks call these.

Concurrency. Every binding written on an X first takes that X's row lock
(SELECT ... FOR UPDATE on accounts.PrivacyNumber): allocation skips rows other
transactions hold (SKIP LOCKED) so fifty requests spread over fifty Xs instead of
queueing on one; an explicitly chosen X waits for its lock. Once the lock is held
the X is checked again with a fresh query (READ COMMITTED gives each statement a
new snapshot), so pairings and the per-X cap are exact. The partial unique
indexes on Binding are the backstop. Allocation never waits for a pool row's lock
(SKIP LOCKED) and an explicitly chosen X is the first lock its transaction takes,
so pool locks cannot deadlock. The search is ordered
by privacy.XLoad (live bindings per X, kept in step in the same transactions),
so it walks an index instead of counting every X's bindings. SQLite (the quick
start) has no row locks: Django drops FOR UPDATE there and its single writer
serializes the transactions instead.

Vendor calls are made outside any transaction, by workers (privacy.tasks):
- igw: `reqid` is generated once per binding and sent on every attempt, so a
  retried or redelivered bind never makes a second vendor binding.
- cyj: its bind has no idempotency key. We count attempts in a committed row
  before calling; a redelivered task that finds an attempt already started
  marks the binding failed ("outcome unknown") rather than risk a second
  vendor binding, and cyj binds are never retried by the task (the client
  already retries what provably never reached the vendor).

Release and expiry:
- igw AXB/XA release is a vendor call: active -> releasing (now) -> released
  (worker). A vendor "resource does not exist" (1300) means it is gone
  already: released.
- cyj documents no release API: release marks the binding released locally at
  once, and the vendor unbinds it by itself at EndMinute (<= 60 minutes).
  Until then allocation counts it on its X (pairing and cap), because the
  vendor refuses the same pair on that X (rules.KINDS_HELD_UNTIL_END_TIME).
- Expiry: igw ends AXB/XA bindings itself after ttl and cyj at EndMinute, so
  the beat job only marks rows expired locally; calling release would only
  earn a "resource does not exist" error. Our expires_at is computed from the
  moment the vendor answered, never earlier than the vendor's own clock, so an
  X slot is never reused while the vendor still holds it.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import PrivacyNumber, VendorAccount
from accounts.selectors import vendor_client
from core.phones import display_number, national_number, normalize_number
from privacy import rules
from privacy.models import Binding, BindingTransition, XLoad
from vendors.errors import NotFound, VendorError

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | str | None

LIVE = list(Binding.LIVE_STATES)
# Seconds an allocation keeps trying while every free X is locked by concurrent
# allocations (they finish in milliseconds; this only matters on a tiny pool).
ALLOCATION_WAIT_SECONDS = 10.0
# Explicit X allocations that hit a unique index race are tried again this often.
ALLOCATION_ATTEMPTS = 5


class RetryLater(Exception):
    """The vendor call failed transiently; the task should retry after `countdown` seconds."""

    def __init__(self, countdown: int, error: VendorError) -> None:
        super().__init__(countdown, error)
        self.countdown = countdown
        self.error = error


class IdempotencyConflict(Exception):
    """An Idempotency-Key already names a binding made from a different request."""

    def __init__(self, binding: Binding) -> None:
        super().__init__(binding.pk)
        self.binding = binding


# --------------------------------------------------------------------------- helpers


def _actor(actor: Actor) -> tuple[AbstractBaseUser | None, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    return actor, actor.get_username()


def _record(binding: Binding, from_state: str, to_state: str, actor: Actor, reason: str) -> None:
    user, label = _actor(actor)
    BindingTransition.objects.create(
        binding=binding,
        from_state=from_state,
        to_state=to_state,
        actor=user,
        actor_label=label,
        reason=reason,
    )


def _transition(
    *,
    binding_id: int,
    allowed_from: tuple[str, ...],
    to_state: str,
    actor: Actor,
    reason: str = "",
    **changes,
) -> Binding | None:
    """Move a binding to `to_state` if it is in one of `allowed_from`; else return None.

    The row lock makes concurrent workers (a redelivered task, the beat) agree:
    only the first one to move the row wins, the others see the new state.
    """
    with transaction.atomic():
        binding = Binding.objects.select_for_update().filter(pk=binding_id).first()
        if binding is None or binding.state not in allowed_from:
            return None
        previous, old_x = binding.state, binding.x_number_id
        binding.state = to_state
        for field, value in changes.items():
            setattr(binding, field, value)
        if to_state in Binding.FINAL_STATES and binding.ended_at is None:
            binding.ended_at = timezone.now()
        binding.save()
        if old_x and previous in LIVE:
            _load_add(old_x, binding.vendor_account_id, -1)
        if binding.x_number_id and to_state in LIVE:
            _load_add(binding.x_number_id, binding.vendor_account_id, +1)
        _record(binding, previous, to_state, actor, reason)
    return binding


def _load_add(x_id: int, account_id: int, delta: int) -> None:
    """Keep XLoad in step, in the caller's transaction; a missing row is built from truth."""
    if XLoad.objects.filter(x_number_id=x_id).update(live=F("live") + delta):
        return
    live = Binding.objects.filter(x_number_id=x_id, state__in=LIVE).count()
    XLoad.objects.bulk_create(
        [XLoad(x_number_id=x_id, vendor_account_id=account_id, live=live)],
        ignore_conflicts=True,
    )


def xload_sync(*, vendor_account: VendorAccount | None = None) -> int:
    """Rebuild XLoad from the bindings: add rows for new pool numbers, fix any drift.

    Costs one pass over the live bindings; run by the beat and when the pool looks
    exhausted. Returns how many rows were added or corrected.
    """
    numbers = PrivacyNumber.objects.all()
    if vendor_account is not None:
        numbers = numbers.filter(vendor_account=vendor_account)
    truth = (
        numbers.order_by("pk")
        .annotate(n=Count("bindings", filter=Q(bindings__state__in=LIVE)))
        .values_list("pk", "vendor_account_id", "n")
    )
    known = dict(XLoad.objects.filter(x_number__in=numbers).values_list("x_number_id", "live"))
    missing, wrong = [], []
    for pk, account_id, n in truth:
        if pk not in known:
            missing.append(XLoad(x_number_id=pk, vendor_account_id=account_id, live=n))
        elif known[pk] != n:
            wrong.append(XLoad(x_number_id=pk, vendor_account_id=account_id, live=n))
    XLoad.objects.bulk_create(missing, batch_size=5000, ignore_conflicts=True)
    XLoad.objects.bulk_update(wrong, ["live"], batch_size=5000)
    return len(missing) + len(wrong)


def _enqueue(task_name: str, binding_id: int) -> None:
    """Send a task once the surrounding transaction commits.

    robust=True: a broker outage (or, in the eager quick start, a crash inside the
    task) must not turn an already committed write into a 500; the row stays
    pending/releasing and resolve_stuck_pending sends it again.
    """
    from privacy import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(binding_id), robust=True)


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Request:
    kind: str
    account: VendorAccount
    a_number: str
    b_number: str
    x_number: PrivacyNumber | None
    area_code: str
    ttl: int
    record: bool
    display: str
    direct: int | None
    anucode: str
    ansanu: str
    user_data: str

    @property
    def parties(self) -> list[str]:
        return [n for n in (self.a_number, self.b_number) if n]


def _normalize(raw: str, field: str, errors: dict[str, list[str]]) -> str:
    try:
        return normalize_number(raw)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return ""


def _clean(
    *,
    kind: str,
    vendor_account: VendorAccount | None,
    a_number: str,
    b_number: str,
    x_number: PrivacyNumber | str | None,
    area_code: str,
    ttl: int | None,
    record: bool,
    display: str,
    direct: int | None,
    anucode: str,
    ansanu: str,
    user_data: str,
) -> _Request:
    """Check everything that can be checked without locks; raise every field error at once."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if kind not in Binding.Kind.values:
        err("kind", f"Choose one of {', '.join(Binding.Kind.values)}.")
    if vendor_account is None:
        err("vendor_account", "Choose a vendor account.")
    else:
        if not vendor_account.enabled:
            err("vendor_account", f"{vendor_account.name} is disabled; it makes no vendor calls.")
        supported = rules.KINDS_BY_VENDOR.get(vendor_account.vendor, ())
        if kind in Binding.Kind.values and kind not in supported:
            err(
                "vendor_account",
                f"{vendor_account.name} is a {vendor_account.vendor} account, which does not "
                f"offer {kind} bindings"
                + (f" (it offers: {', '.join(supported)})." if supported else "."),
            )

    a = _normalize(a_number, "a_number", errors)
    b = ""
    if kind == Binding.Kind.XA:
        if (b_number or "").strip():
            err("b_number", "An XA transfer has no B number.")
    else:
        b = _normalize(b_number, "b_number", errors)
    if a and b and a == b:
        err("b_number", "A and B must be different numbers.")

    area_code = (area_code or "").strip()
    if area_code and not (area_code.isdigit() and 3 <= len(area_code) <= 4):
        err("area_code", "An area code is 3 or 4 digits, e.g. 010 or 0755.")

    if kind == Binding.Kind.CYJ:
        ttl = rules.CYJ_DEFAULT_TTL if ttl is None else ttl
        if not rules.CYJ_MIN_TTL <= ttl <= rules.CYJ_MAX_TTL:
            err(
                "ttl",
                f"cyj bindings last {rules.CYJ_MIN_TTL}..{rules.CYJ_MAX_TTL} seconds "
                "(EndMinute is at most 60 minutes).",
            )
    elif kind == Binding.Kind.AXB:
        if ttl is None or ttl <= 0:
            err("ttl", "igw AXB needs a ttl in seconds, greater than 0.")
        elif ttl > rules.IGW_MAX_TTL:
            err("ttl", f"At most {rules.IGW_MAX_TTL} seconds (7 days).")
    elif kind == Binding.Kind.XA:
        ttl = 0 if ttl is None else ttl
        if ttl < 0 or ttl > rules.IGW_MAX_TTL:
            err("ttl", f"0 (until released) to {rules.IGW_MAX_TTL} seconds (7 days).")

    display = (display or "").strip()
    if kind == Binding.Kind.AXB:
        display = display or "0,0"
        if display not in rules.AXB_DISPLAYS:
            err("display", f"One of {', '.join(rules.AXB_DISPLAYS)}.")
    elif kind == Binding.Kind.XA:
        display = display or "0"
        if display not in rules.XA_DISPLAYS:
            err("display", "0 (show X) or 1 (show the real caller).")
    elif display:
        err("display", "cyj has no display mode; use direct.")
    if kind == Binding.Kind.CYJ:
        direct = 0 if direct is None else direct
        if direct not in rules.CYJ_DIRECTS:
            err("direct", "0 both ways, 1 A calls B only, 2 B calls A only.")
    elif direct is not None:
        err("direct", "Only cyj bindings have a call direction.")
    if kind != Binding.Kind.AXB and ansanu:
        err("ansanu", "Only igw AXB plays an announcement after answer.")
    if kind == Binding.Kind.CYJ and anucode:
        err("anucode", "cyj has no announcement codes.")
    for field, value, limit in (("anucode", anucode, 64), ("ansanu", ansanu, 64)):
        if value and len(value) > limit:
            err(field, f"At most {limit} characters.")
    if user_data and len(user_data) > 256:
        err("user_data", "At most 256 characters.")
    if user_data and kind == Binding.Kind.CYJ:
        err("user_data", "cyj does not carry user data.")

    x: PrivacyNumber | None = None
    if isinstance(x_number, PrivacyNumber):
        x = x_number
    elif x_number and str(x_number).strip() and vendor_account is not None:
        number = _normalize(str(x_number), "x_number", errors)
        if number:
            x = PrivacyNumber.objects.filter(number=number).first()
            if x is None:
                err("x_number", f"{national_number(number)} is not in the number pool.")
    if x is not None and vendor_account is not None:
        if x.vendor_account_id != vendor_account.pk:
            err("x_number", f"{national_number(x.number)} belongs to another vendor account.")
        elif x.status != PrivacyNumber.Status.AVAILABLE:
            err("x_number", f"{national_number(x.number)} is {x.get_status_display().lower()}.")

    if errors:
        raise ValidationError(errors)
    assert vendor_account is not None and ttl is not None
    return _Request(
        kind=kind,
        account=vendor_account,
        a_number=a,
        b_number=b,
        x_number=x,
        area_code=area_code,
        ttl=ttl,
        record=bool(record),
        display=display,
        direct=direct,
        anucode=anucode or "",
        ansanu=ansanu or "",
        user_data=user_data or "",
    )


# --------------------------------------------------------------------------- allocation


def _live_on(x_ref) -> QuerySet[Binding]:
    return Binding.objects.filter(x_number=x_ref, state__in=LIVE)


def _held_on(x_ref, kind: str) -> QuerySet[Binding]:
    """Released bindings of `kind` the vendor still keeps on X until their end time.

    Empty unless the kind's vendor has no release API (rules.KINDS_HELD_UNTIL_END_TIME).
    Not in the partial unique indexes (their condition cannot name the time), so
    this query, run under the X's row lock, is the whole rule for such rows.
    """
    if kind not in rules.KINDS_HELD_UNTIL_END_TIME:
        return Binding.objects.none()
    return Binding.objects.filter(
        x_number=x_ref, kind=kind, state=Binding.State.RELEASED, expires_at__gt=timezone.now()
    )


def _pairs_q(req: _Request) -> Q:
    return Q(a_number__in=req.parties) | Q(b_number__in=req.parties)


def _conflict_q(req: _Request, x_ref) -> Q:
    """Rows on X that forbid this binding there (as an Exists filter)."""
    live = _live_on(x_ref)
    if req.kind == Binding.Kind.XA:
        # An XA transfer forwards every call to X: the X must carry nothing else.
        return Q(Exists(live))
    pairs = _pairs_q(req)
    conflict = Q(Exists(live.filter(kind=Binding.Kind.XA))) | Q(Exists(live.filter(pairs)))
    if req.kind in rules.KINDS_HELD_UNTIL_END_TIME:
        conflict |= Q(Exists(_held_on(x_ref, req.kind).filter(pairs)))
    return conflict


def _x_problem(x: PrivacyNumber, req: _Request, cap: int) -> str:
    """Why X cannot take this binding, read fresh while its row lock is held; "" if it can."""
    live = _live_on(x)
    who = " or ".join(national_number(n) for n in req.parties)
    if req.kind == Binding.Kind.XA:
        if live.exists():
            return f"{national_number(x.number)} carries other bindings; an XA needs it alone."
        return ""
    if live.filter(kind=Binding.Kind.XA).exists():
        return f"{national_number(x.number)} carries an XA transfer."
    if live.filter(_pairs_q(req)).exists():
        return f"{national_number(x.number)} already pairs {who}."
    held = _held_on(x, req.kind)
    until = held.filter(_pairs_q(req)).aggregate(until=Max("expires_at"))["until"]
    if until is not None:
        return (
            f"{national_number(x.number)} still pairs {who} at the vendor until "
            f"{timezone.localtime(until):%Y-%m-%d %H:%M}: the vendor has no release API and "
            "keeps a released binding until its end time."
        )
    if live.count() + held.count() >= cap:
        return f"{national_number(x.number)} is at its cap of {cap} live bindings."
    return ""


def _load(kind: str) -> Coalesce:
    def per_x(rows: QuerySet[Binding]) -> Coalesce:
        counted = rows.order_by().values("x_number").annotate(n=Count("pk")).values("n")[:1]
        return Coalesce(Subquery(counted), Value(0))

    load = per_x(_live_on(OuterRef("pk")))
    if kind in rules.KINDS_HELD_UNTIL_END_TIME:
        load = load + per_x(_held_on(OuterRef("pk"), kind))
    return load


def _candidates(req: _Request) -> QuerySet[PrivacyNumber]:
    qs = PrivacyNumber.objects.filter(
        vendor_account=req.account, status=PrivacyNumber.Status.AVAILABLE
    )
    return qs.filter(area_code=req.area_code) if req.area_code else qs


def _exhausted_reason(req: _Request, cap: int) -> str:
    """Say which constraint ran out; "" when free Xs exist but are locked right now."""
    account = req.account.name
    if not PrivacyNumber.objects.filter(
        vendor_account=req.account, status=PrivacyNumber.Status.AVAILABLE
    ).exists():
        return f"The number pool of {account} has no available numbers."
    candidates = _candidates(req)
    if req.area_code and not candidates.exists():
        return f"The number pool of {account} has no available number in area {req.area_code}."
    total = candidates.count()
    conflicting = candidates.filter(_conflict_q(req, OuterRef("pk"))).count()
    full = candidates.exclude(_conflict_q(req, OuterRef("pk"))).annotate(load=_load(req.kind))
    full = full.filter(load__gte=cap).count()
    if conflicting + full < total:
        return ""
    where = f" in area {req.area_code}" if req.area_code else ""
    parties = " or ".join(national_number(n) for n in req.parties)
    if req.kind == Binding.Kind.XA:
        one, many = "already carries bindings", "already carry bindings"
        one += " (an XA needs its X alone)"
    else:
        one, many = f"already pairs {parties}", f"already pair {parties}"
        if req.kind in rules.KINDS_HELD_UNTIL_END_TIME:
            held = " (released bindings count until their end time: the vendor keeps them)"
            one, many = one + held, many + held
    if full == 0:
        return f"Every available X number{where} ({total}) {one}."
    if conflicting == 0:
        return f"Every available X number{where} ({total}) is at its cap of {cap} live bindings."
    return (
        f"No X number left{where}: {conflicting} {many}, "
        f"{full} are at their cap of {cap} live bindings."
    )


def _search(req: _Request, cap: int) -> QuerySet[PrivacyNumber]:
    """Usable Xs by the load hint, least loaded first."""
    return (
        _candidates(req)
        .filter(privacy_load__vendor_account=req.account, privacy_load__live__lt=cap)
        .exclude(_conflict_q(req, OuterRef("pk")))
        .order_by("privacy_load__live", "privacy_load__x_number")
    )


def _allocate(req: _Request, cap: int, exclude: set[int]) -> PrivacyNumber:
    """Lock and return the least-loaded X that can take the binding (inside a transaction).

    The search walks XLoad's (account, live, x) index and stops at the first X that
    is not locked; the choice is then checked against the real rows under the lock.
    """
    search = _search(req, cap)
    deadline = time.monotonic() + ALLOCATION_WAIT_SECONDS
    pause = 0.005
    synced = False
    while True:
        x = search.exclude(pk__in=exclude).select_for_update(skip_locked=True, of=("self",)).first()
        if x is not None:
            if not _x_problem(x, req, cap):
                return x
            # The search's snapshot (or the load hint) was behind: skip this X.
            exclude.add(x.pk)
            continue
        if search.exclude(pk__in=exclude).exists():
            # Free Xs exist but concurrent allocations hold them; they commit in ms.
            if time.monotonic() > deadline:
                raise ValidationError(
                    {"x_number": "Every free X number is being allocated right now; try again."}
                )
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, 0.2)
            continue
        if not synced:
            # New pool numbers (bulk imports) or a drifted hint: rebuild, look again.
            synced = True
            if xload_sync(vendor_account=req.account):
                continue
        reason = _exhausted_reason(req, cap)
        raise ValidationError({"x_number": reason or "No X number is free; try again."})


def _lock_chosen(req: _Request, cap: int) -> PrivacyNumber:
    assert req.x_number is not None
    x = PrivacyNumber.objects.select_for_update(of=("self",)).get(pk=req.x_number.pk)
    if x.status != PrivacyNumber.Status.AVAILABLE:
        raise ValidationError({"x_number": f"{national_number(x.number)} is not available."})
    problem = _x_problem(x, req, cap)
    if problem:
        raise ValidationError({"x_number": problem})
    return x


# --------------------------------------------------------------------------- create


def binding_for_idempotency_key(*, user: AbstractBaseUser | None, key: str) -> Binding | None:
    if not key or user is None:
        return None
    return Binding.objects.filter(created_by=user, client_idempotency_key=key).first()


def _same_request(binding: Binding, req: _Request) -> bool:
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
    req = _clean(
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
    existing = binding_for_idempotency_key(user=created_by, key=key)
    if existing is not None:
        return _replay(existing, req), False

    cap = rules.max_bindings_per_x(req.account)
    # cyj without a pool of our own: the vendor picks the number (by area code).
    vendor_picks = (
        req.kind == Binding.Kind.CYJ
        and req.x_number is None
        and not PrivacyNumber.objects.filter(vendor_account=req.account).exists()
    )
    exclude: set[int] = set()
    for _ in range(ALLOCATION_ATTEMPTS):
        try:
            with transaction.atomic():
                x = None
                if req.x_number is not None:
                    x = _lock_chosen(req, cap)
                elif not vendor_picks:
                    x = _allocate(req, cap, exclude)
                binding = _insert(req, x, created_by, key)
                _enqueue("bind_binding", binding.pk)
                return binding, True
        except (IntegrityError, ValidationError) as exc:
            # A twin request with this key may have committed since the lookup above:
            # then it, not the X, is why this attempt failed (its binding now pairs
            # A and B on the only X, or holds the key). Both show in a fresh query.
            existing = binding_for_idempotency_key(user=created_by, key=key)
            if existing is not None:
                return _replay(existing, req), False
            if isinstance(exc, ValidationError):
                raise
            if req.x_number is not None:
                raise ValidationError({"x_number": _integrity_text(exc)}) from exc
            # A concurrent commit on the chosen X slipped past our snapshot: try another.
            logger.info("binding allocation raced on an X, retrying: %s", exc)
            if x is not None:
                exclude.add(x.pk)
    raise ValidationError({"x_number": "Could not allocate an X number; try again."})


def _replay(existing: Binding, req: _Request) -> Binding:
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
    req: _Request, x: PrivacyNumber | None, created_by: AbstractBaseUser | None, key: str
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
            _load_add(x.pk, req.account.pk, +1)
        _record(binding, "", Binding.State.PENDING, created_by or "api", "created")
    return binding


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
        if binding.kind == Binding.Kind.CYJ and binding.attempts > 0:
            # Redelivered after a started cyj call: the vendor may have bound it.
            outcome_unknown = True
        else:
            outcome_unknown = False
            binding.attempts += 1
            if binding.kind == Binding.Kind.CYJ:
                binding.expires_at = timezone.now() + timedelta(seconds=binding.ttl)
            binding.save(update_fields=["attempts", "expires_at", "updated_at"])
    if outcome_unknown:
        binding_mark_failed(
            binding_id=binding_id,
            code="unknown_outcome",
            text="绑定结果未知",
            text_en="A previous bind attempt was interrupted; its outcome is unknown.",
            advice="cyj bind has no idempotency key, so it was not repeated. If the vendor "
            "made the binding it ends by itself at EndMinute; create a new binding.",
        )
        return None
    return binding


def _call_bind(binding: Binding):
    client = vendor_client(account=binding.vendor_account)
    x = national_number(binding.x_number.number) if binding.x_number else ""
    if binding.kind == Binding.Kind.AXB:
        return client.bind_axb(
            x_number=x,
            a_number=national_number(binding.a_number),
            b_number=national_number(binding.b_number),
            reqid=binding.reqid,
            ttl=binding.ttl,
            record=binding.record,
            display=binding.display or "0,0",
            anucode=binding.anucode,
            ansanu=binding.ansanu,
            user_data=binding.user_data,
        )
    if binding.kind == Binding.Kind.XA:
        return client.bind_xa(
            x_number=x,
            a_number=national_number(binding.a_number),
            reqid=binding.reqid,
            ttl=binding.ttl,
            record=binding.record,
            display=int(binding.display or "0"),
            anucode=binding.anucode,
            user_data=binding.user_data,
        )
    return client.bind(
        caller=national_number(binding.a_number),
        callee=national_number(binding.b_number),
        virtual_number=x,
        direct=binding.direct or 0,
        end_time=binding.expires_at,
        area_code=binding.area_code,
    )


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
        result = _call_bind(binding)
    except VendorError as exc:
        retry = (
            exc.retryable
            and binding.kind != Binding.Kind.CYJ
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


def binding_mark_active(
    *,
    binding_id: int,
    vendor_binding_id: str,
    vendor_x_number: str = "",
    actor: Actor = "worker",
) -> Binding | None:
    """pending -> active: keep the vendor's id; for cyj link the vendor's number to our pool."""
    now = timezone.now()
    binding = Binding.objects.select_related("x_number").get(pk=binding_id)
    changes: dict = {"vendor_binding_id": vendor_binding_id or "", "activated_at": now}
    if binding.kind != Binding.Kind.CYJ:
        # igw counts ttl from its receipt of the request, which is before `now`.
        changes["expires_at"] = now + timedelta(seconds=binding.ttl) if binding.ttl else None
    reason = "vendor confirmed"
    if binding.kind == Binding.Kind.CYJ and vendor_x_number and binding.x_number_id is None:
        try:
            number = normalize_number(vendor_x_number)
        except ValidationError:
            number = ""
        x = PrivacyNumber.objects.filter(
            number=number, vendor_account_id=binding.vendor_account_id
        ).first()
        if x is not None:
            changes["x_number"] = x
        else:
            reason = f"vendor chose {vendor_x_number}, which is not in our pool"
    try:
        return _transition(
            binding_id=binding_id,
            allowed_from=(Binding.State.PENDING,),
            to_state=Binding.State.ACTIVE,
            actor=actor,
            reason=reason,
            **changes,
        )
    except IntegrityError:
        # The vendor's number already pairs A or B locally: keep the binding, unlinked.
        changes.pop("x_number", None)
        return _transition(
            binding_id=binding_id,
            allowed_from=(Binding.State.PENDING,),
            to_state=Binding.State.ACTIVE,
            actor=actor,
            reason=f"vendor chose {vendor_x_number}, which already pairs A or B here",
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
    return _transition(
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
    if binding.kind == Binding.Kind.CYJ:
        moved = _transition(
            binding_id=binding.pk,
            allowed_from=(Binding.State.ACTIVE,),
            to_state=Binding.State.RELEASED,
            actor=actor,
            reason=(reason + "; " if reason else "")
            + "cyj has no release API: the vendor unbinds at EndMinute",
        )
        return moved or Binding.objects.get(pk=binding.pk)
    if not binding.vendor_account.enabled:
        raise ValidationError(
            {
                "vendor_account": f"{binding.vendor_account.name} is disabled; enable it to "
                "release (a release is a vendor call)."
            }
        )
    with transaction.atomic():
        moved = _transition(
            binding_id=binding.pk,
            allowed_from=(Binding.State.ACTIVE,),
            to_state=Binding.State.RELEASING,
            actor=actor,
            reason=reason or "release requested",
        )
        if moved is not None:
            _enqueue("release_binding", binding.pk)
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


def binding_release_at_vendor(*, binding_id: int, final_attempt: bool = False) -> None:
    """Worker side of an igw release. Raises RetryLater on weather."""
    binding = (
        Binding.objects.select_related("vendor_account", "x_number")
        .filter(pk=binding_id, state=Binding.State.RELEASING)
        .first()
    )
    if binding is None:
        return
    client = vendor_client(account=binding.vendor_account)
    try:
        if binding.kind == Binding.Kind.AXB:
            client.release_axb(subid=binding.vendor_binding_id)
        else:
            client.release_xa(x_number=national_number(binding.x_number.number))
    except NotFound as exc:
        _transition(
            binding_id=binding_id,
            allowed_from=(Binding.State.RELEASING,),
            to_state=Binding.State.RELEASED,
            actor="worker",
            reason=f"vendor no longer had it ({exc.code}: {exc.message or exc.message_en})",
        )
        return
    except VendorError as exc:
        if exc.retryable and not final_attempt:
            raise RetryLater(retry_countdown(1), exc) from exc
        _transition(
            binding_id=binding_id,
            allowed_from=(Binding.State.RELEASING,),
            to_state=Binding.State.ACTIVE,
            actor="worker",
            reason=f"release refused: {exc}",
        )
        return
    _transition(
        binding_id=binding_id,
        allowed_from=(Binding.State.RELEASING,),
        to_state=Binding.State.RELEASED,
        actor="worker",
        reason="vendor released it",
    )


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
        moved = _transition(
            binding_id=pk,
            allowed_from=(Binding.State.ACTIVE, Binding.State.RELEASING),
            to_state=Binding.State.EXPIRED,
            actor="beat",
            reason="ttl passed; the vendor ends the binding by itself",
        )
        count += moved is not None
    return count


def bindings_resolve_stuck(
    *, now: datetime | None = None, older_than_minutes: int = rules.STUCK_PENDING_MINUTES
) -> tuple[int, int]:
    """Re-enqueue or fail bindings stuck in pending/releasing. Returns (requeued, failed)."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=older_than_minutes)
    requeued = failed = 0
    stuck = Binding.objects.filter(
        state__in=[Binding.State.PENDING, Binding.State.RELEASING], updated_at__lt=cutoff
    ).values_list("pk", "state", "kind", "attempts", "created_at", "ttl")
    for pk, state, kind, attempts, created_at, ttl in stuck[:1000]:
        if state == Binding.State.RELEASING:
            with transaction.atomic():
                Binding.objects.filter(pk=pk).update(updated_at=now)
                _enqueue("release_binding", pk)
            requeued += 1
            continue
        why = ""
        if kind == Binding.Kind.CYJ and attempts > 0:
            why = "a cyj bind was interrupted and cannot be repeated safely"
        elif attempts >= rules.MAX_BIND_ATTEMPTS:
            why = f"no answer from the vendor after {attempts} attempts"
        elif ttl and created_at + timedelta(seconds=ttl) <= now:
            why = "its ttl passed before the vendor confirmed it"
        if why:
            moved = binding_mark_failed(
                binding_id=pk,
                code="stuck_pending",
                text_en=f"Stuck in pending for over {older_than_minutes} minutes: {why}.",
                advice="Create the binding again.",
                actor="beat",
            )
            failed += moved is not None
            continue
        with transaction.atomic():
            # Touch it so the next sweep waits another full period for this task.
            Binding.objects.filter(pk=pk, state=Binding.State.PENDING).update(updated_at=now)
            _enqueue("bind_binding", pk)
        requeued += 1
    return requeued, failed


def describe_for(binding: Binding, user) -> str:
    """A one-line label for messages: kind, masked numbers."""
    parts = [display_number(binding.a_number, user)]
    if binding.b_number:
        parts.append(display_number(binding.b_number, user))
    x = display_number(binding.x_number.number, user) if binding.x_number else "?"
    return f"{binding.get_kind_display()} #{binding.pk} X {x}: {' / '.join(parts)}"
