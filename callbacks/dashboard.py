"""The call dashboard page (/calls/dashboard/) and the query form it shares with
/api/v1/stats/ (callbacks/stats_api.py): a period (a preset or from/to) and a
vendor account or all of them.  Call figures come from callbacks.stats (rollups
only), SMS and voice codes sent and failed from messaging.selectors.send_counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.shortcuts import render
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import VendorAccount
from callbacks import rollups, stats
from core.decorators import require_perm
from core.filters import MomentField, parse_moment
from messaging import selectors as messaging_selectors
from privacy import selectors as privacy_selectors

# The range and the longest period one may ask for: the previous period and the
# rounding to hours must stay real dates, and a year of hourly rollups is a quick read.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_LENGTH = timedelta(days=366)
EXPIRING_WITHIN = timedelta(hours=1)


def _midnight(now: datetime, days_back: int = 0) -> datetime:
    day = timezone.localtime(now).date() - timedelta(days=days_back)
    return timezone.make_aware(datetime.combine(day, time.min))


# Preset -> (label, its [start, end) given now); days are TIME_ZONE days.
PRESETS = {
    "today": ("Today", lambda now: (_midnight(now), now)),
    "yesterday": ("Yesterday", lambda now: (_midnight(now, 1), _midnight(now))),
    "24h": ("Last 24 hours", lambda now: (now - timedelta(hours=24), now)),
    "7d": ("Last 7 days", lambda now: (_midnight(now, 6), now)),
    "30d": ("Last 30 days", lambda now: (_midnight(now, 29), now)),
}
DEFAULT_PRESET = "7d"


class StatsForm(forms.Form):
    """?period=7d, or ?from=2026-11-01&to=2026-11-30 (dates or ISO datetimes, `to`
    inclusive), and ?vendor_account=<id>."""

    period = forms.ChoiceField(
        choices=[(k, label) for k, (label, _) in PRESETS.items()] + [("custom", "Custom")],
        required=False,
    )
    vendor_account = forms.ModelChoiceField(
        queryset=VendorAccount.objects.order_by("name"),
        required=False,
        empty_label="All vendor accounts",
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        if self.is_bound and not self.data.get("period") and not self.data.get("from"):
            # No period asked: the default's, and the select shows it (not its first option).
            self.data = self.data.copy()
            self.data["period"] = DEFAULT_PRESET
        # "from" is a Python keyword: these two are added by name.
        self.fields["from"] = MomentField(required=False, max_length=40, label="From")
        self.fields["to"] = MomentField(required=False, max_length=40, label="To")
        self.order_fields(["period", "from", "to", "vendor_account"])

    def _custom(self, data) -> tuple[datetime, datetime]:
        start = parse_moment(data["from"], end=False) if data.get("from") else None
        if start is None:
            raise forms.ValidationError({"from": "Choose the start of a custom period."})
        end = parse_moment(data["to"], end=True) if data.get("to") else self.now
        if end <= start:
            raise forms.ValidationError({"to": "The end must be after the start."})
        if start < EARLIEST or end > LATEST:
            raise forms.ValidationError({"from": "Choose a period between 2000 and 2099."})
        if end - start > MAX_LENGTH:
            raise forms.ValidationError({"to": "A period is at most 366 days long."})
        return start, end

    def clean(self):
        data = super().clean()
        preset = data.get("period") or ("custom" if data.get("from") else DEFAULT_PRESET)
        data["period"] = preset
        if preset == "custom":
            start, end = self._custom(data)
        else:
            start, end = PRESETS[preset][1](self.now)
        data["range"] = stats.Period.around(start, end)
        return data


def stats_query(form: StatsForm) -> dict:
    """The arguments of stats.dashboard_stats from a valid form."""
    account = form.cleaned_data.get("vendor_account")
    return {
        "period": form.cleaned_data["range"],
        "vendor_account_id": account.pk if account else None,
    }


def _chart_data(board: stats.Dashboard) -> dict:
    """What static/js/dashboard.js draws (read with json_script: no inline script)."""
    return {
        "series": {
            "labels": [b.label for b in board.series],
            "calls": [b.calls for b in board.series],
            "answered": [b.answered for b in board.series],
            "previous_calls": [b.previous_calls for b in board.series],
            "unit": "day" if board.period.by_day else "hour",
        },
        "outcomes": {
            "labels": [row.label for row in board.outcomes],
            "calls": [row.calls for row in board.outcomes],
            "previous_calls": [row.previous_calls for row in board.outcomes],
        },
    }


def _direction(change: float | None) -> str:
    if change is None:
        return ""
    return "up" if change > 0 else "down" if change < 0 else "unchanged"


def _cards(board: stats.Dashboard) -> list[dict]:
    """The headline figures, each with the previous period's and the change in words
    and arrows (never in colour alone)."""
    now, before = board.current, board.previous
    rows = [
        ("Calls", now.calls, before.calls, ""),
        ("Answer rate (ASR)", now.asr, before.asr, "%"),
        ("Average talk time (ACD)", now.acd, before.acd, " s"),
        ("Total minutes", now.minutes, before.minutes, ""),
    ]
    cards = []
    for label, value, previous, unit in rows:
        change = stats.change(value, previous)
        cards.append(
            {
                "label": label,
                "value": value,
                "previous": previous,
                "unit": unit,
                "direction": _direction(change),
                "change": abs(change) if change is not None else None,
            }
        )
    return cards


def send_counts(board: stats.Dashboard, user) -> dict:
    """SMS and voice codes sent and failed in the board's period and the previous one
    (the kinds `user` may view)."""
    return messaging_selectors.send_counts(
        since=board.previous_period.start,
        split=board.period.start,
        until=board.period.end,
        user=user,
        vendor_account_id=board.vendor_account_id,
    )


SEND_ROWS = {
    "sms": ("SMS", "messaging:sms_list"),
    "voice_codes": ("Voice codes", "messaging:voice_code_list"),
}


def _send_rows(counts: dict) -> list[dict]:
    rows = []
    for kind, figures in counts.items():
        label, url = SEND_ROWS[kind]
        row = {"label": label, "url": url, "kind": kind}
        for name in ("sent", "failed"):
            now, before = getattr(figures, name), getattr(figures, f"previous_{name}")
            change = stats.change(now, before)
            row[name] = {
                "value": now,
                "previous": before,
                "direction": _direction(change),
                "change": abs(change) if change is not None else None,
            }
        row["figures"] = [row["sent"], row["failed"]]
        rows.append(row)
    return rows


@require_perm("callbacks.view_callrecord")
def dashboard(request):
    form = StatsForm(request.GET)
    context: dict = {"form": form}
    if not form.is_valid():
        context["refreshed_at"] = rollups.rollup_last_refresh()
        return render(request, "callbacks/dashboard.html", context)
    query = stats_query(form)
    board = stats.dashboard_stats(**query)
    context.update(board=board, cards=_cards(board), chart=_chart_data(board))
    context["refreshed_at"] = board.refreshed_at
    context["balances"] = account_selectors.account_balances(
        vendor_account_id=query["vendor_account_id"]
    )
    context["sends"] = _send_rows(send_counts(board, request.user))
    if request.user.has_perm("privacy.view_binding"):
        context["bindings"] = privacy_selectors.binding_activity(
            vendor_account_id=query["vendor_account_id"], within=EXPIRING_WITHIN
        )
        context["expiring_minutes"] = int(EXPIRING_WITHIN.total_seconds() // 60)
    return render(request, "callbacks/dashboard.html", context)
