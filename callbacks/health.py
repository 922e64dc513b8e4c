"""X-number health: each X number's answer rate (ASR) over the last day and the last
week against the rest of its pool (the other X numbers of the same vendor account),
read from the CallHourX rollup only (callbacks/rollups.py), never the raw records.

A number marked as spam by phone apps keeps ringing but is rarely picked up: its ASR
falls well below its pool's, which still reaches the same callers. The flag is a
test on counts, not a bare threshold:

- the test: a one-sided two-proportion z-test of "the number's ASR is lower than the
  rest of the pool's", answered / ended calls (a call without its CDR yet has no
  outcome and is left out, as on the dashboard), with the pooled proportion in the
  standard error.  The number is compared with the rest of its pool, not the whole
  pool, so the two samples are independent and a big number cannot hide in its own
  average;
- enough calls to judge: the number needs MIN_ENDED (30) ended calls in the window,
  and so does the rest of the pool; below that nothing is said (the normal
  approximation holds from about 30 calls with a few answered and unanswered);
- significance: a pool of N tested numbers is N tests at once, so the one-sided
  level is FAMILY_ALPHA / N (Bonferroni): at most a 1% chance per pool and window
  that any normal number is flagged by chance.  A pool of 100 numbers needs
  z <= -3.72, a pool of 5 z <= -2.88;
- each of the two windows (the last 24 hours, the last 7 days, in whole UTC hours
  including the current one) is tested on its own; a number is flagged when either
  window says so: the day catches a number that went bad today, the week one that
  is consistently worse with too few calls a day to tell.

Suspending a flagged number (accounts.services.number_suspend) keeps it out of
allocation (privacy/allocation.py takes only available numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import NamedTuple

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import PrivacyNumber, VendorAccount
from callbacks import rollups
from callbacks.models import CallHourX

MIN_ENDED = 30
FAMILY_ALPHA = 0.01
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Test:
    """The number's figures in one window against the rest of its pool."""

    calls: int
    ended: int
    answered: int
    pool_ended: int  # the rest of the pool: every other X of the account
    pool_answered: int
    z: float | None = None  # None: not enough calls to judge
    p_value: float | None = None
    flagged: bool = False

    @property
    def asr(self) -> float | None:
        return round(100 * self.answered / self.ended, 1) if self.ended else None

    @property
    def pool_asr(self) -> float | None:
        return round(100 * self.pool_answered / self.pool_ended, 1) if self.pool_ended else None

    @property
    def judged(self) -> bool:
        return self.z is not None


def z_score(*, ended: int, answered: int, pool_ended: int, pool_answered: int) -> float | None:
    """The two-proportion z statistic (number minus rest of pool); None when either
    side has fewer than MIN_ENDED ended calls or nobody/everybody answered (no
    variance to test against)."""
    if ended < MIN_ENDED or pool_ended < MIN_ENDED:
        return None
    p = (answered + pool_answered) / (ended + pool_ended)
    if p in (0.0, 1.0):
        return None
    se = math.sqrt(p * (1 - p) * (1 / ended + 1 / pool_ended))
    return (answered / ended - pool_answered / pool_ended) / se


def critical_z(tested: int) -> float:
    """The one-sided threshold for a pool with `tested` numbers judged (Bonferroni)."""
    return _NORMAL.inv_cdf(FAMILY_ALPHA / max(tested, 1))


def _test(figures: tuple[int, int, int], pool: tuple[int, int], tested: int) -> Test:
    calls, ended, answered = figures
    # The rest of the pool: the pool's totals less the number's own calls.
    pool_ended, pool_answered = pool[0] - ended, pool[1] - answered
    z = z_score(ended=ended, answered=answered, pool_ended=pool_ended, pool_answered=pool_answered)
    if z is None:
        return Test(calls, ended, answered, pool_ended, pool_answered)
    return Test(
        calls,
        ended,
        answered,
        pool_ended,
        pool_answered,
        z=round(z, 2),
        p_value=_NORMAL.cdf(z),
        flagged=z <= critical_z(tested),
    )


@dataclass
class NumberHealth:
    x_number: str
    vendor_account: VendorAccount
    day: Test
    week: Test
    number: PrivacyNumber | None = None  # None: not (or no longer) in the pool

    @property
    def flagged(self) -> bool:
        return self.day.flagged or self.week.flagged

    @property
    def windows(self) -> tuple[Test, Test]:
        return self.day, self.week

    @property
    def suspendable(self) -> bool:
        return self.number is not None and self.number.status == PrivacyNumber.Status.AVAILABLE

    def sort_key(self) -> tuple:
        # Flagged first, then the most significant (lowest p) of either window.
        p = min((t.p_value for t in (self.day, self.week) if t.p_value is not None), default=1.0)
        return (not self.flagged, p, self.x_number)


@dataclass
class PoolHealth:
    """One vendor account's pool: its totals and its numbers."""

    vendor_account: VendorAccount
    day: tuple[int, int] = (0, 0)  # (ended, answered) of the whole pool
    week: tuple[int, int] = (0, 0)
    numbers: list[NumberHealth] = field(default_factory=list)


@dataclass
class Health:
    since_day: datetime
    since_week: datetime
    numbers: list[NumberHealth]
    pools: dict[int, PoolHealth]
    refreshed_at: datetime | None

    @property
    def flagged_count(self) -> int:
        return sum(1 for n in self.numbers if n.flagged)


class _Row(NamedTuple):
    """One X number's (calls, ended, answered) in each window."""

    account_id: int
    x_number: str
    week: tuple[int, int, int]
    day: tuple[int, int, int]


def _rows(since_day: datetime, since_week: datetime, vendor_account_id: int | None) -> list[_Row]:
    """One aggregate over a week of CallHourX, per account and X number."""
    qs = CallHourX.objects.filter(hour__gte=since_week).exclude(x_number="").order_by()
    if vendor_account_id is not None:
        qs = qs.filter(vendor_account_id=vendor_account_id)
    today = Q(hour__gte=since_day)
    rows = qs.values_list("vendor_account_id", "x_number").annotate(
        week_calls=Sum("calls"),
        week_ended=Sum("ended"),
        week_answered=Sum("answered"),
        # NULL when the number had no calls in the last day.
        day_calls=Coalesce(Sum("calls", filter=today), 0),
        day_ended=Coalesce(Sum("ended", filter=today), 0),
        day_answered=Coalesce(Sum("answered", filter=today), 0),
    )
    return [_Row(r[0], r[1], tuple(r[2:5]), tuple(r[5:8])) for r in rows]


def _pool_totals(rows: list[_Row], window: str) -> tuple[int, int]:
    """(ended, answered) of the whole pool in a window."""
    return (
        sum(getattr(r, window)[1] for r in rows),
        sum(getattr(r, window)[2] for r in rows),
    )


def _judged(rows: list[_Row], window: str, pool: tuple[int, int]) -> int:
    """How many numbers of the pool the window can judge (the Bonferroni N)."""
    return sum(
        1
        for r in rows
        if getattr(r, window)[1] >= MIN_ENDED and pool[0] - getattr(r, window)[1] >= MIN_ENDED
    )


def _pool_health(account: VendorAccount, rows: list[_Row]) -> PoolHealth:
    pool = PoolHealth(account, day=_pool_totals(rows, "day"), week=_pool_totals(rows, "week"))
    tested_day, tested_week = _judged(rows, "day", pool.day), _judged(rows, "week", pool.week)
    pool.numbers = [
        NumberHealth(
            x_number=r.x_number,
            vendor_account=account,
            day=_test(r.day, pool.day, tested_day),
            week=_test(r.week, pool.week, tested_week),
        )
        for r in rows
    ]
    return pool


def x_number_health(*, vendor_account_id: int | None = None, now: datetime | None = None) -> Health:
    """Every X number with calls in the last week, flagged ones first."""
    now = now or timezone.now()
    current_hour = rollups.hour_floor(now)
    since_day, since_week = current_hour - DAY + rollups.HOUR, current_hour - WEEK + rollups.HOUR
    by_account: dict[int, list[_Row]] = {}
    for row in _rows(since_day, since_week, vendor_account_id):
        by_account.setdefault(row.account_id, []).append(row)
    accounts = VendorAccount.objects.in_bulk(list(by_account))
    pools = {pk: _pool_health(accounts[pk], rows) for pk, rows in by_account.items()}
    numbers = [n for pool in pools.values() for n in pool.numbers]
    in_pool = PrivacyNumber.objects.in_bulk([n.x_number for n in numbers], field_name="number")
    for n in numbers:
        n.number = in_pool.get(n.x_number)
    numbers.sort(key=NumberHealth.sort_key)
    return Health(since_day, since_week, numbers, pools, rollups.rollup_last_refresh())
