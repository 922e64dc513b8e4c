"""Reads for the home page: what each role came for (figures over time: the call dashboard).

Operators come to fix things (bindings stuck or refused, deliveries refused, CDRs
missing); business staff come to see how today's calls went. Every count is one
indexed query: the home page is the most visited page.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallRecord, Delivery
from callbacks.selectors import gap_records
from privacy.models import Binding

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    url: str
    # Draws the eye: a count of problems that is not zero.
    alert: bool = False


def _url(name: str, **query: str) -> str:
    return reverse(name) + (f"?{urlencode(query)}" if query else "")


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight of the current day in TIME_ZONE, the day business staff mean by "today"."""
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min))


def attention_tiles(*, user, now: datetime | None = None) -> list[Tile]:
    """Operators: what needs a look, each linking to the list that shows it."""
    now = now or timezone.now()
    since = now - RECENT
    tiles: list[Tile] = []
    if user.has_perm("privacy.change_binding"):
        # One query, on the (state, updated_at) index.
        counts = Binding.objects.filter(
            Q(state=Binding.State.PENDING) | Q(state=Binding.State.FAILED, updated_at__gte=since)
        ).aggregate(
            pending=Count("pk", filter=Q(state=Binding.State.PENDING)),
            failed=Count("pk", filter=Q(state=Binding.State.FAILED)),
        )
        tiles += [
            Tile(
                "Bindings waiting for the vendor",
                str(counts["pending"]),
                _url("privacy:binding_list", state="pending"),
                counts["pending"] > 0,
            ),
            Tile(
                "Bindings failed (24 h)",
                str(counts["failed"]),
                _url("privacy:binding_list", state="failed"),
                counts["failed"] > 0,
            ),
        ]
    if user.has_perm("callbacks.view_delivery"):
        refused = Delivery.objects.filter(
            outcome__in=Delivery.REPLAYABLE, received_at__gte=since
        ).count()
        gaps = gap_records(now=now).count()
        tiles += [
            Tile(
                "Deliveries rejected or failed (24 h)",
                str(refused),
                _url("callbacks:delivery_list", outcome="problems"),
                refused > 0,
            ),
            Tile("Calls missing their CDR", str(gaps), _url("callbacks:gap_list"), gaps > 0),
        ]
    return tiles


def today_tiles(*, user, now: datetime | None = None) -> list[Tile]:
    """Business staff: today's calls and how many of those that ended were answered."""
    if not user.has_perm("callbacks.view_callrecord"):
        return []
    midnight = start_of_today(now)
    day = {"date_from": midnight.date().isoformat()}
    stats = CallRecord.objects.filter(call_at__gte=midnight).aggregate(
        calls=Count("pk"),
        ended=Count("pk", filter=~Q(outcome="")),
        answered=Count("pk", filter=Q(outcome="answered")),
    )
    # Calls still awaiting their CDR have no outcome yet: they are not unanswered.
    rate = f"{100 * stats['answered'] / stats['ended']:.0f}%" if stats["ended"] else "—"
    return [
        Tile("Calls today", str(stats["calls"]), _url("callbacks:call_record_list", **day)),
        Tile(
            "Answered today",
            rate,
            _url("callbacks:call_record_list", outcome="answered", **day),
        ),
    ]


def home_summary(*, user, now: datetime | None = None) -> dict[str, list[Tile]]:
    return {
        "attention": attention_tiles(user=user, now=now),
        "today": today_tiles(user=user, now=now),
    }
