"""Reads of the call dashboard and /api/v1/stats/: figures for a period beside the
previous period of the same length, from the rollups only (callbacks/rollups.py).

Periods are whole hours (the rollups' grain): a period's start is rounded down and
its end up to the hour.  Answer rate (ASR) is answered / ended calls: a call whose
CDR has not arrived has no outcome yet and is not counted as unanswered (as on the
home page).  ACD is the average talk time of the answered calls.

A period's figures are cached (the default cache: Redis in production) under the
rollups' version (callbacks.rollups.rollup_version), which every refresh changes:
at a steady ingest the beat job refreshes every minute, so the first view after a
refresh computes and the others read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDay
from django.utils import timezone

from callbacks import rollups
from callbacks.models import OUTCOME_CHOICES, CallHourTotal, CallHourX

HOUR = rollups.HOUR
# Longer periods are charted per day (in TIME_ZONE) instead of per hour.
HOURLY_UP_TO = timedelta(days=2)
OUTCOME_LABELS = {"": "no CDR yet", **dict(OUTCOME_CHOICES)}


@dataclass(frozen=True)
class Period:
    """[start, end) in whole hours."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, start: datetime, end: datetime) -> Period:
        return cls(
            rollups.hour_floor(start), max(rollups.hour_ceil(end), rollups.hour_floor(start) + HOUR)
        )

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        return Period(self.start - self.length, self.start)

    @property
    def by_day(self) -> bool:
        return self.length > HOURLY_UP_TO


@dataclass
class Figures:
    calls: int = 0
    ended: int = 0
    answered: int = 0
    talk_seconds: int = 0

    def add(self, *, calls: int, answered: int, talk_seconds: int, ended: bool) -> None:
        self.calls += calls
        self.ended += calls if ended else 0
        self.answered += answered
        self.talk_seconds += talk_seconds

    @property
    def asr(self) -> float | None:
        """Answered share of the ended calls, in percent."""
        return round(100 * self.answered / self.ended, 1) if self.ended else None

    @property
    def acd(self) -> float | None:
        """Average talk seconds of an answered call."""
        return round(self.talk_seconds / self.answered, 1) if self.answered else None

    @property
    def minutes(self) -> float:
        return round(self.talk_seconds / 60, 1)


@dataclass(frozen=True)
class OutcomeRow:
    outcome: str
    label: str
    calls: int
    previous_calls: int
    share: float | None  # percent of the period's calls


@dataclass(frozen=True)
class Bucket:
    start: datetime
    label: str
    calls: int
    answered: int
    previous_calls: int
    previous_answered: int


@dataclass(frozen=True)
class XRow:
    x_number: str
    figures: Figures
    previous: Figures


@dataclass
class Dashboard:
    period: Period
    previous_period: Period
    vendor_account_id: int | None
    current: Figures = field(default_factory=Figures)
    previous: Figures = field(default_factory=Figures)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    series: list[Bucket] = field(default_factory=list)
    busiest: list[XRow] = field(default_factory=list)
    refreshed_at: datetime | None = None


def _scoped(qs: QuerySet, vendor_account_id: int | None) -> QuerySet:
    return qs if vendor_account_id is None else qs.filter(vendor_account_id=vendor_account_id)


def _buckets(period: Period) -> list[datetime]:
    """Every bucket start of the period, empty ones included (a chart needs them)."""
    if not period.by_day:
        count = int(period.length / HOUR)
        return [period.start + i * HOUR for i in range(count)]
    first: date = timezone.localtime(period.start).date()
    last: date = timezone.localtime(period.end - HOUR).date()
    days = (last - first).days + 1
    return [
        timezone.make_aware(datetime.combine(first + timedelta(d), time.min)) for d in range(days)
    ]


def _bucket_label(start: datetime, by_day: bool) -> str:
    local = timezone.localtime(start)
    return f"{local:%m-%d}" if by_day else f"{local:%m-%d %H:00}"


def _totals(dashboard: Dashboard) -> None:
    """Figures, outcomes and series of both periods: one query on CallHourTotal,
    grouped by bucket (a day in TIME_ZONE or an hour) in SQL, the previous period's
    rows shifted onto the current period's buckets."""
    period, previous = dashboard.period, dashboard.previous_period
    current = Q(hour__gte=period.start)
    aligned = Case(
        When(current, then=F("hour")),
        default=ExpressionWrapper(F("hour") + Value(period.length), output_field=DateTimeField()),
        output_field=DateTimeField(),
    )
    bucket = TruncDay(aligned, tzinfo=timezone.get_current_timezone()) if period.by_day else aligned
    rows = (
        _scoped(CallHourTotal.objects.all(), dashboard.vendor_account_id)
        .filter(hour__gte=previous.start, hour__lt=period.end)
        .order_by()
        .values_list(
            bucket,
            Case(
                When(current, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
            "outcome",
        )
        .annotate(Sum("calls"), Sum("answered"), Sum("talk_seconds"))
    )
    outcomes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    series: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for key, is_current, outcome, calls, answered, talk in rows:
        figures = dashboard.current if is_current else dashboard.previous
        figures.add(calls=calls, answered=answered, talk_seconds=int(talk), ended=outcome != "")
        outcomes[outcome][0 if is_current else 1] += calls
        offset = 0 if is_current else 2
        series[key][offset] += calls
        series[key][offset + 1] += answered
    total = dashboard.current.calls
    dashboard.outcomes = sorted(
        (
            OutcomeRow(
                outcome=o,
                label=OUTCOME_LABELS.get(o, o),
                calls=c,
                previous_calls=p,
                share=round(100 * c / total, 1) if total else None,
            )
            for o, (c, p) in outcomes.items()
        ),
        key=lambda row: (-row.calls, -row.previous_calls, row.outcome),
    )
    dashboard.series = [
        Bucket(start, _bucket_label(start, period.by_day), *series.get(start, (0, 0, 0, 0)))
        for start in _buckets(period)
    ]


def _x_figures(qs: QuerySet) -> dict[str, Figures]:
    figures: dict[str, Figures] = {}
    for x, calls, ended, answered, talk in qs.values_list("x_number").annotate(
        Sum("calls"), Sum("ended"), Sum("answered"), Sum("talk_seconds")
    ):
        figures[x] = Figures(calls=calls, ended=ended, answered=answered, talk_seconds=talk)
    return figures


def _busiest(dashboard: Dashboard, top: int) -> None:
    """The X numbers with the most calls in the period, with their previous figures.
    Every X number's figures come in one GROUP BY (a pool is hundreds to thousands of
    numbers), ranked here: one query fewer than ranking in SQL first."""
    base = _scoped(CallHourX.objects.exclude(x_number="").order_by(), dashboard.vendor_account_id)
    period, previous = dashboard.period, dashboard.previous_period
    now = _x_figures(base.filter(hour__gte=period.start, hour__lt=period.end))
    ranked = sorted(now, key=lambda x: (-now[x].calls, x))[:top]
    if not ranked:
        return
    before = _x_figures(
        base.filter(hour__gte=previous.start, hour__lt=previous.end, x_number__in=ranked)
    )
    dashboard.busiest = [XRow(x, now[x], before.get(x, Figures())) for x in ranked]


# A bound on how stale a cached dashboard can be if a new version failed to reach
# the cache (a refresh normally replaces it within a minute).
CACHE_SECONDS = 300


def dashboard_stats(
    *, period: Period, vendor_account_id: int | None = None, top: int = 10
) -> Dashboard:
    """The dashboard's call figures for `period` and the one before it (cached
    under the rollups' version)."""
    version = rollups.rollup_version()
    span = f"{period.start.timestamp():.0f}-{period.end.timestamp():.0f}"
    key = f"callbacks:dashboard:{version}:{vendor_account_id}:{top}:{span}"
    dashboard = _cache_get(key) if version else None
    if dashboard is None:
        dashboard = Dashboard(
            period=period, previous_period=period.previous(), vendor_account_id=vendor_account_id
        )
        _totals(dashboard)
        _busiest(dashboard, top)
        if version:
            _cache_set(key, dashboard)
    dashboard.refreshed_at = rollups.rollup_last_refresh()
    return dashboard


def _cache_get(key: str) -> Dashboard | None:
    try:
        return cache.get(key)
    except Exception:  # the cache only saves work
        rollups.logger.warning("dashboard cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, dashboard: Dashboard) -> None:
    try:
        cache.set(key, dashboard, CACHE_SECONDS)
    except Exception:  # the cache only saves work
        rollups.logger.warning("dashboard cache unavailable", exc_info=True)


def change(now: float | None, before: float | None) -> float | None:
    """Relative change in percent, None when there is nothing to compare with."""
    if now is None or not before:
        return None
    return round(100 * (now - before) / before, 1)


__all__ = [
    "Bucket",
    "Dashboard",
    "Figures",
    "OutcomeRow",
    "Period",
    "XRow",
    "change",
    "dashboard_stats",
]
