"""Tunables of the callbacks app, with defaults that need no settings at all.

Each can be overridden by a Django setting of the same name; settings.py sets the
recording delay, attempts, backoff, link lifetime and gap window from the environment
(RECORDING_DELAY_SECONDS, ... CDR_GAP_MINUTES: the README's configuration table).
Read through these functions so tests can use pytest-django's `settings` fixture.
"""

from __future__ import annotations

from django.conf import settings

# A webhook body larger than this is refused with 413; vendors send a few KiB.
MAX_BODY_BYTES = 256 * 1024


def _get(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def cdr_gap_minutes() -> int:
    """A call_start/answer with no CDR after this long is flagged on the gap page."""
    return _get("CALLBACKS_CDR_GAP_MINUTES", 10)


def recording_delay_seconds() -> int:
    """Wait before the first download: vendors publish recordings a little after the CDR."""
    return _get("CALLBACKS_RECORDING_DELAY_SECONDS", 120)


def recording_max_attempts() -> int:
    return _get("CALLBACKS_RECORDING_MAX_ATTEMPTS", 8)


def recording_backoff_seconds(attempt: int) -> int:
    """Delay after failed attempt `attempt` (1-based): 60 s doubling, capped at 1 h.
    Eight attempts span about 2 h, well inside the shortest link lifetime (hours)."""
    base = _get("CALLBACKS_RECORDING_BACKOFF_SECONDS", 60)
    return min(base * 2 ** max(attempt - 1, 0), 3600)


def recording_link_lifetime_hours() -> int:
    """After this long since the call a link is presumed expired: stop trying."""
    return _get("CALLBACKS_RECORDING_LINK_LIFETIME_HOURS", 24)


def recording_max_bytes() -> int:
    return _get("CALLBACKS_RECORDING_MAX_BYTES", 50 * 1024 * 1024)


def recording_timeout_seconds() -> float:
    """Connect and between-bytes read timeout of one download attempt."""
    return float(getattr(settings, "CALLBACKS_RECORDING_TIMEOUT_SECONDS", 30))


def recording_lease_seconds() -> int:
    """A download's claim is a lease: one claimed longer ago than this belongs to a
    dead worker and is taken over.  Each attempt is cut off 15 s before it ends
    (`recording_deadline_seconds`), so a live download never outlives its lease."""
    return _get("CALLBACKS_RECORDING_LEASE_SECONDS", 90)


def recording_deadline_seconds() -> float:
    return max(recording_lease_seconds() - 15, 5)


def recording_sweep_grace_seconds() -> int:
    """A pending download overdue by this much lost its message: the sweeper re-sends it."""
    return _get("CALLBACKS_RECORDING_SWEEP_GRACE_SECONDS", 20)


def trusted_proxy_hops() -> int:
    """How many reverse proxies append to X-Forwarded-For in front of us (TRUSTED_PROXY)."""
    return _get("TRUSTED_PROXY_HOPS", 1)


def export_background_rows() -> int:
    """An export estimated above this many rows runs in the background into a file."""
    return _get("CALLBACKS_EXPORT_BACKGROUND_ROWS", 100_000)


def export_batch_rows() -> int:
    """Rows per keyset batch: one query each, so memory stays flat whatever the total."""
    return max(_get("CALLBACKS_EXPORT_BATCH_ROWS", 5000), 1)


def export_file_hours() -> int:
    """A background export's file is deleted this long after it is written."""
    return _get("CALLBACKS_EXPORT_FILE_HOURS", 24)


def export_stale_minutes() -> int:
    """A running export not heard of for this long died with its process: failed."""
    return _get("CALLBACKS_EXPORT_STALE_MINUTES", 30)


def delivery_body_retention_days() -> int:
    """Raw delivery bodies older than this are emptied (0: kept for ever)."""
    return max(_get("CALLBACKS_DELIVERY_BODY_RETENTION_DAYS", 30), 0)


def delivery_retention_days() -> int:
    """Delivery rows older than this are deleted (0: kept for ever)."""
    return max(_get("CALLBACKS_DELIVERY_RETENTION_DAYS", 180), 0)


def call_record_retention_days() -> int:
    """Call records and their events older than this are deleted (0: kept for ever);
    the rollups keep their figures."""
    return max(_get("CALLBACKS_CALL_RECORD_RETENTION_DAYS", 0), 0)


def prune_batch_rows() -> int:
    """Rows per pruning statement: each batch is its own short transaction."""
    return max(_get("CALLBACKS_PRUNE_BATCH_ROWS", 1000), 1)
