"""The numbers that shape bindings: TTL bounds, caps, timings.

One place to change each; the kinds' specs (privacy.kinds) and the services
read them from here.

- igw AXB: the document requires a ttl (seconds) and names no maximum. We cap
  it at 7 days: a privacy pairing (a ride, a delivery) lives hours, and a
  forgotten week-long pairing holds an X slot the pool needs.
- igw XA: ttl is optional, 0 means "until released" (§4.3), same 7-day cap.
- cyj: EndMinute defaults to 30 minutes and may not exceed 60 (§二 2.1), so
  ttl is 60..3600 seconds, default 1800.
- The form's starting TTL per kind (privacy.kinds, `form_ttl`): AXB one hour
  (AXB_FORM_TTL), long enough for a ride or a delivery call-back; XA 0 (until
  released); cyj the vendor's 30 min.
"""

from typing import Final

IGW_MAX_TTL: Final = 7 * 24 * 3600
CYJ_MIN_TTL: Final = 60
CYJ_MAX_TTL: Final = 3600
CYJ_DEFAULT_TTL: Final = 1800
AXB_FORM_TTL: Final = 3600

DEFAULT_MAX_BINDINGS_PER_X: Final = 200

# A binding pending this long has lost its task (broker flush, worker crash past the
# visibility timeout); the vendor client gives up within about a minute.
STUCK_PENDING_MINUTES: Final = 10
# Worker-level bind attempts (each one already retried inside the vendor client).
MAX_BIND_ATTEMPTS: Final = 5
MAX_RELEASE_ATTEMPTS: Final = 5


def max_bindings_per_x(account) -> int:
    value = (account.extra or {}).get("max_bindings_per_x", DEFAULT_MAX_BINDINGS_PER_X)
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return DEFAULT_MAX_BINDINGS_PER_X
