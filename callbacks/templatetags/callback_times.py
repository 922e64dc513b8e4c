"""Showing vendor-supplied times without ever crashing a page.

A vendor decides the times in its CDRs.  Since vendors.base.check_times they
are bounded on arrival, but rows stored before that (or written by hand) can
hold a moment such as 9999-12-31T23:59:59Z, which overflows when Django
converts it to Asia/Shanghai for display: the page answered 500.  `when`
shows such a value in UTC, marked, instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import dateformat, timezone

register = template.Library()

DEFAULT_FORMAT = "Y-m-d H:i:s"


def moment(value: object, fmt: str = DEFAULT_FORMAT) -> str:
    """`value` in the display time zone, or in UTC (suffixed) when it cannot be
    converted; "" for None so `|default:"–"` still works."""
    if value is None or value == "":
        return ""
    if not isinstance(value, datetime):
        return str(value)
    try:
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return dateformat.format(local, fmt)
    except (OverflowError, ValueError):
        return dateformat.format(value.astimezone(UTC), fmt) + " UTC"


# expects_localtime stays False: the engine's own conversion is what overflows.
@register.filter(name="when")
def when(value: object, fmt: str = DEFAULT_FORMAT) -> str:
    return moment(value, fmt)
