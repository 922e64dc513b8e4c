"""The numbers that shape bindings whatever their kind: caps, timings.

One place to change each.  A kind's own numbers (TTL bounds, default, the
form's starting TTL) are declared with its spec in its vendor's module
(vendors/<code>.py, `binding_kinds`).
"""

from typing import Final

DEFAULT_MAX_BINDINGS_PER_X: Final = 200

# Worker-level bind attempts (each one already retried inside the vendor client).
MAX_BIND_ATTEMPTS: Final = 5
MAX_RELEASE_ATTEMPTS: Final = 5


def max_bindings_per_x(account) -> int:
    value = (account.extra or {}).get("max_bindings_per_x", DEFAULT_MAX_BINDINGS_PER_X)
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return DEFAULT_MAX_BINDINGS_PER_X
