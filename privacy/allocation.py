"""X-number allocation: which X may take a binding, choosing one, locking it, XLoad.

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

What an X may carry, by the kinds' specs (privacy.kinds): a kind with
`exclusive_x` (igw XA) needs its X alone; any other binding needs an X where
neither A nor B is already paired, and for kinds `held_until_end_time` (cyj)
released bindings still count until their end time, because the vendor keeps
them.
"""

from __future__ import annotations

import random
import time

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import PrivacyNumber, VendorAccount
from core.phones import national_number
from privacy import kinds
from privacy.kinds import BindingKind
from privacy.models import Binding, XLoad
from privacy.validation import BindingRequest

LIVE = list(Binding.LIVE_STATES)
# Seconds an allocation keeps trying while every free X is locked by concurrent
# allocations (they finish in milliseconds; this only matters on a tiny pool).
ALLOCATION_WAIT_SECONDS = 10.0


# --------------------------------------------------------------------------- XLoad


def load_add(x_id: int, account_id: int, delta: int) -> None:
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


# --------------------------------------------------------------------------- rules


def _live_on(x_ref) -> QuerySet[Binding]:
    return Binding.objects.filter(x_number=x_ref, state__in=LIVE)


def _held_on(x_ref, spec: BindingKind) -> QuerySet[Binding]:
    """Released bindings of this kind the vendor still keeps on X until their end time.

    Empty unless the kind is held until its end time (no release API at the vendor).
    Not in the partial unique indexes (their condition cannot name the time), so
    this query, run under the X's row lock, is the whole rule for such rows.
    """
    if not spec.held_until_end_time:
        return Binding.objects.none()
    return Binding.objects.filter(
        x_number=x_ref, kind=spec.code, state=Binding.State.RELEASED, expires_at__gt=timezone.now()
    )


def _pairs_q(req: BindingRequest) -> Q:
    return Q(a_number__in=req.parties) | Q(b_number__in=req.parties)


def _exclusive_on(live: QuerySet[Binding]) -> QuerySet[Binding]:
    return live.filter(kind__in=kinds.where("exclusive_x"))


def _conflict_q(req: BindingRequest, x_ref) -> Q:
    """Rows on X that forbid this binding there (as an Exists filter)."""
    live = _live_on(x_ref)
    if req.spec.exclusive_x:
        # e.g. an XA transfer forwards every call to X: the X must carry nothing else.
        return Q(Exists(live))
    pairs = _pairs_q(req)
    conflict = Q(Exists(_exclusive_on(live))) | Q(Exists(live.filter(pairs)))
    if req.spec.held_until_end_time:
        conflict |= Q(Exists(_held_on(x_ref, req.spec).filter(pairs)))
    return conflict


def _x_problem(x: PrivacyNumber, req: BindingRequest, cap: int) -> str:
    """Why X cannot take this binding, read fresh while its row lock is held; "" if it can."""
    live = _live_on(x)
    who = " or ".join(national_number(n) for n in req.parties)
    shown = national_number(x.number)
    if req.spec.exclusive_x:
        return f"{shown} carries other bindings; an XA needs it alone." if live.exists() else ""
    if _exclusive_on(live).exists():
        return f"{shown} carries an XA transfer."
    if live.filter(_pairs_q(req)).exists():
        return f"{shown} already pairs {who}."
    held = _held_on(x, req.spec)
    until = held.filter(_pairs_q(req)).aggregate(until=Max("expires_at"))["until"]
    if until is not None:
        return (
            f"{shown} still pairs {who} at the vendor until "
            f"{timezone.localtime(until):%Y-%m-%d %H:%M}: the vendor has no release API and "
            "keeps a released binding until its end time."
        )
    if live.count() + held.count() >= cap:
        return f"{shown} is at its cap of {cap} live bindings."
    return ""


def _load(spec: BindingKind) -> Coalesce:
    def per_x(rows: QuerySet[Binding]) -> Coalesce:
        counted = rows.order_by().values("x_number").annotate(n=Count("pk")).values("n")[:1]
        return Coalesce(Subquery(counted), Value(0))

    load = per_x(_live_on(OuterRef("pk")))
    if spec.held_until_end_time:
        load = load + per_x(_held_on(OuterRef("pk"), spec))
    return load


def _candidates(req: BindingRequest) -> QuerySet[PrivacyNumber]:
    qs = PrivacyNumber.objects.filter(
        vendor_account=req.account, status=PrivacyNumber.Status.AVAILABLE
    )
    return qs.filter(area_code=req.area_code) if req.area_code else qs


# --------------------------------------------------------------------------- exhaustion


def _exhausted_reason(req: BindingRequest, cap: int) -> str:
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
    full = candidates.exclude(_conflict_q(req, OuterRef("pk"))).annotate(load=_load(req.spec))
    full = full.filter(load__gte=cap).count()
    if conflicting + full < total:
        return ""
    return _exhausted_text(req, cap, total=total, conflicting=conflicting, full=full)


def _conflict_words(req: BindingRequest) -> tuple[str, str]:
    """How one X, and many, conflict with this request."""
    if req.spec.exclusive_x:
        return "already carries bindings (an XA needs its X alone)", "already carry bindings"
    parties = " or ".join(national_number(n) for n in req.parties)
    one, many = f"already pairs {parties}", f"already pair {parties}"
    if req.spec.held_until_end_time:
        held = " (released bindings count until their end time: the vendor keeps them)"
        one, many = one + held, many + held
    return one, many


def _exhausted_text(
    req: BindingRequest, cap: int, *, total: int, conflicting: int, full: int
) -> str:
    where = f" in area {req.area_code}" if req.area_code else ""
    one, many = _conflict_words(req)
    if full == 0:
        return f"Every available X number{where} ({total}) {one}."
    if conflicting == 0:
        return f"Every available X number{where} ({total}) is at its cap of {cap} live bindings."
    return (
        f"No X number left{where}: {conflicting} {many}, "
        f"{full} are at their cap of {cap} live bindings."
    )


# --------------------------------------------------------------------------- locking


def _search(req: BindingRequest, cap: int) -> QuerySet[PrivacyNumber]:
    """Usable Xs by the load hint, least loaded first."""
    return (
        _candidates(req)
        .filter(privacy_load__vendor_account=req.account, privacy_load__live__lt=cap)
        .exclude(_conflict_q(req, OuterRef("pk")))
        .order_by("privacy_load__live", "privacy_load__x_number")
    )


def allocate(req: BindingRequest, cap: int, exclude: set[int]) -> PrivacyNumber:
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


def lock_chosen(req: BindingRequest, cap: int) -> PrivacyNumber:
    """Lock the X the caller chose (waiting for it) and check it can take the binding."""
    assert req.x_number is not None
    x = PrivacyNumber.objects.select_for_update(of=("self",)).get(pk=req.x_number.pk)
    if x.status != PrivacyNumber.Status.AVAILABLE:
        raise ValidationError({"x_number": f"{national_number(x.number)} is not available."})
    problem = _x_problem(x, req, cap)
    if problem:
        raise ValidationError({"x_number": problem})
    return x
