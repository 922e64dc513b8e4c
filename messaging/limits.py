"""Send rate limits, enforced across processes: per vendor account per minute and per
day, and per recipient per hour (the voice-code cap against call pumping).

Fixed windows (the minute, the UTC day, the hour), one counter per (scope, window).
Every check takes all its counters at once or none: when one window is full nothing
is counted, so a refused send never uses up another window's quota. Two backends:

- Redis, when REDIS_URL is set or the Celery broker is redis:// (production): one
  Lua script checks and increments every counter atomically, with an EXPIRE per key.
- The database otherwise (the quick start: SQLite and an embedded broker): a
  LimitWindow row per (scope, window) and a conditional `UPDATE … SET count = count + n
  WHERE count + n <= limit`, inside one transaction for all the scopes; the row
  lock serializes concurrent senders, so the limit holds across processes too.

A refused check raises `RateLimitExceeded` carrying `retry_after` (seconds until the
full window ends): the API answers 429 with Retry-After, pages show the message.

A send counts once per recipient (an SMS to 40 numbers uses 40), since that is what
the vendor bills and what pumping fraud multiplies. Limits come from the account's
SendPolicy row, else from settings; 0 means unlimited.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import VendorAccount

MINUTE = 60
HOUR = 3600
DAY = 86400


class RateLimitExceeded(Exception):
    """A send over a limit; nothing was counted and nothing is sent."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class Limit:
    """At most `limit` sends per `period` seconds in `scope`; `label` names it to people."""

    scope: str
    period: int
    limit: int
    label: str

    def window(self, now: float) -> int:
        return int(now // self.period) * self.period

    def retry_after(self, now: float) -> int:
        return math.ceil(self.window(now) + self.period - now)


@dataclass(frozen=True)
class AccountLimits:
    per_minute: int
    per_day: int
    recipient_per_hour: int


def limits_for(account: VendorAccount) -> AccountLimits:
    """The account's SendPolicy values, with the settings' default for each blank one."""
    from messaging.models import SendPolicy

    policy = SendPolicy.objects.filter(vendor_account_id=account.pk).first()

    def pick(name: str, default: int) -> int:
        value = getattr(policy, name, None) if policy is not None else None
        return default if value is None else value

    return AccountLimits(
        per_minute=pick("per_minute", settings.MESSAGING_SENDS_PER_MINUTE),
        per_day=pick("per_day", settings.MESSAGING_SENDS_PER_DAY),
        recipient_per_hour=pick("recipient_per_hour", settings.MESSAGING_RECIPIENT_SENDS_PER_HOUR),
    )


def account_limits(account: VendorAccount) -> list[Limit]:
    """The account's per-minute and per-day limits (those that are not 0)."""
    conf = limits_for(account)
    candidates = (
        Limit(f"acct:{account.pk}:min", MINUTE, conf.per_minute, f"{conf.per_minute} a minute"),
        Limit(f"acct:{account.pk}:day", DAY, conf.per_day, f"{conf.per_day} a day"),
    )
    return [limit for limit in candidates if limit.limit > 0]


def acquire(account: VendorAccount, count: int = 1, *, now: float | None = None) -> None:
    """Count `count` sends against the account's per-minute and per-day limits, or
    raise RateLimitExceeded and count nothing."""
    take(account_limits(account), count, now=now)


def acquire_recipient(
    account: VendorAccount, number: str, *, limit: int | None = None, now: float | None = None
) -> None:
    """Count one send to `number` against the per-recipient hourly cap (voice codes:
    default 5 an hour, SendPolicy.recipient_per_hour), or raise RateLimitExceeded."""
    if limit is None:
        limit = limits_for(account).recipient_per_hour
    if limit <= 0:
        return
    label = f"{limit} an hour to one number"
    take([Limit(f"rcpt:{account.pk}:{number}", HOUR, limit, label)], 1, now=now)


def take(limits: list[Limit], count: int = 1, *, now: float | None = None) -> None:
    """Count `count` in every limit's current window, all or nothing."""
    limits = [limit for limit in limits if limit.limit > 0]
    if not limits or count <= 0:
        return
    now = time.time() if now is None else now
    full = backend().take(limits, count, now)
    if full is not None:
        raise RateLimitExceeded(
            f"Send rate limit reached ({full.label}); nothing was sent.",
            retry_after=full.retry_after(now),
        )


# --------------------------------------------------------------------------- backends


def redis_url() -> str:
    """REDIS_URL, else the broker's URL when it is Redis, else "" (database backend)."""
    url = getattr(settings, "REDIS_URL", "") or ""
    if url:
        return url
    broker = settings.CELERY_BROKER_URL or ""
    return broker if broker.startswith(("redis://", "rediss://")) else ""


def backend() -> RedisBackend | DatabaseBackend:
    url = redis_url()
    return _redis_backend(url) if url else DatabaseBackend()


@cache
def _redis_backend(url: str) -> RedisBackend:
    return RedisBackend(url)


# KEYS: the counters; ARGV: count, then per key its limit and its TTL. Returns 0 when
# every counter was incremented, else the 1-based index of the first full one.
_LUA = """
local n = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local used = tonumber(redis.call('GET', key) or '0')
  if used + n > limit then return i end
end
for i, key in ipairs(KEYS) do
  local used = redis.call('INCRBY', key, n)
  if used == n then redis.call('EXPIRE', key, tonumber(ARGV[2 * i + 1])) end
end
return 0
"""


class RedisBackend:
    prefix = "ccp:msglimit:"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(_LUA)

    def take(self, limits: list[Limit], count: int, now: float) -> Limit | None:
        keys = [f"{self.prefix}{limit.scope}:{limit.window(now)}" for limit in limits]
        args: list[int] = [count]
        for limit in limits:
            # Keep a key a little past its window so a slow clock never resurrects it.
            args += [limit.limit, limit.period + 60]
        full = int(self.script(keys=keys, args=args))
        return limits[full - 1] if full else None


class DatabaseBackend:
    def take(self, limits: list[Limit], count: int, now: float) -> Limit | None:
        from messaging.models import LimitWindow

        try:
            with transaction.atomic():
                for limit in limits:
                    if not self._take_one(LimitWindow, limit, count, now):
                        raise _Full(limit)
        except _Full as full:
            return full.limit
        return None

    @staticmethod
    def _take_one(model, limit: Limit, count: int, now: float) -> bool:
        if count > limit.limit:
            return False
        window = limit.window(now)
        rows = model.objects.filter(scope=limit.scope, window=window)
        if rows.filter(count__lte=limit.limit - count).update(count=F("count") + count):
            return True
        expires = datetime.fromtimestamp(window + limit.period, tz=UTC)
        try:
            with transaction.atomic():  # a savepoint: a lost insert race leaves us usable
                model.objects.create(
                    scope=limit.scope, window=window, count=count, expires_at=expires
                )
            return True
        except IntegrityError:
            # Another process made the row first: the conditional update decides.
            return bool(
                rows.filter(count__lte=limit.limit - count).update(count=F("count") + count)
            )


class _Full(Exception):
    def __init__(self, limit: Limit) -> None:
        self.limit = limit


def prune_windows(*, now: datetime | None = None) -> int:
    """Delete the database limiter's windows that have ended (beat job)."""
    from django.utils import timezone

    from messaging.models import LimitWindow

    deleted, _ = LimitWindow.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
