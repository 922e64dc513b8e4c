"""Use cases of messaging, the one import point for views, the API, admin and tasks.

The parts live in
- messaging.sending  what every kind of send shares (guards, idempotent create,
                     started-call bookkeeping, retry rules);
- messaging.limits   the send rate limits;
- messaging.sms      SMS and template SMS.
"""

from core.idempotency import IdempotencyConflict
from messaging.limits import RateLimitExceeded
from messaging.sending import RetryLater, sends_resolve_stuck
from messaging.sms import message_create, message_create_or_replay, message_send, message_settle

__all__ = [
    "IdempotencyConflict",
    "RateLimitExceeded",
    "RetryLater",
    "message_create",
    "message_create_or_replay",
    "message_send",
    "message_settle",
    "sends_resolve_stuck",
]
