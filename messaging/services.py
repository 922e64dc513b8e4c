"""Use cases of messaging, the one import point for views, the API, admin and tasks.

The parts live in
- messaging.sending  what every kind of send shares (guards, idempotent create,
                     started-call bookkeeping, retry rules);
- messaging.limits   the send rate limits;
- messaging.calls    two-way calls and voice verification codes.
"""

from messaging.calls import (
    two_way_call_create,
    two_way_call_send,
    voice_code_create,
    voice_code_send,
)

__all__ = [
    "two_way_call_create",
    "two_way_call_send",
    "voice_code_create",
    "voice_code_send",
]
