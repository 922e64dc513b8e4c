"""The window of plausible times in a callback, and the one check that applies it
to everything `VendorClient.parse_callback` returns."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from ._util import aware
from .errors import InvalidPayload
from .types import CallEventData, CallRecordData

__all__ = ["EARLIEST_CALL_TIME", "MAX_CLOCK_AHEAD", "check_times"]

# The window of plausible times in a callback.  A vendor's bug or a hostile
# sender can put any epoch in a CDR (253402300799 = 9999-12-31T23:59:59Z), and
# such a time overflows as soon as it is shown in Asia/Shanghai or has a day
# added to it.  No call on these platforms predates 2000; a vendor clock may
# run ahead of ours, but not by a day.
EARLIEST_CALL_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(days=1)


def check_times(
    items: list[CallRecordData | CallEventData], *, now: datetime | None = None, where: str = ""
) -> None:
    """InvalidPayload unless every datetime of `items` is aware and plausible (see
    EARLIEST_CALL_TIME).  The one place where callback times are bounded."""
    latest = aware(now) + MAX_CLOCK_AHEAD
    prefix = f"{where}: " if where else ""
    for item in items:
        for f in fields(item):
            value = getattr(item, f.name)
            if not isinstance(value, datetime):
                continue
            if value.tzinfo is None:
                raise InvalidPayload(
                    f"{prefix}{f.name} has no time zone (call {item.call_id!r:.80})"
                )
            if not EARLIEST_CALL_TIME <= value <= latest:
                raise InvalidPayload(
                    f"{prefix}{f.name} {value.isoformat()} is outside the plausible window "
                    f"{EARLIEST_CALL_TIME:%Y-%m-%d} to {latest.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
                    f"(call {item.call_id!r:.80})"
                )
