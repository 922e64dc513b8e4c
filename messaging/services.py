"""Use cases of messaging, the one import point for views, the API, admin and tasks.

The parts live in
- messaging.sending  what every kind of send shares (guards, idempotent create,
                     started-call bookkeeping, retry rules);
- messaging.limits   the send rate limits;
- messaging.sms      SMS and template SMS;
- messaging.calls    two-way calls and voice verification codes.
"""

from accounts.models import VendorAccount
from core.idempotency import IdempotencyConflict
from messaging.calls import (
    two_way_call_create,
    two_way_call_send,
    voice_code_create,
    voice_code_send,
)
from messaging.limits import RateLimitExceeded
from messaging.models import SendPolicy
from messaging.sending import RetryLater
from messaging.sms import message_create, message_create_or_replay, message_send, message_settle

__all__ = [
    "IdempotencyConflict",
    "RateLimitExceeded",
    "RetryLater",
    "message_create",
    "message_create_or_replay",
    "message_send",
    "message_settle",
    "send_policy_set",
    "two_way_call_create",
    "two_way_call_send",
    "voice_code_create",
    "voice_code_send",
]


def send_policy_set(
    *,
    vendor_account: VendorAccount,
    per_minute: int | None = None,
    per_day: int | None = None,
    recipient_per_hour: int | None = None,
) -> SendPolicy:
    """Set an account's send limits (None: the settings' default; 0: no limit).
    They apply to the next send: the limiter reads them on every check."""
    policy, _ = SendPolicy.objects.update_or_create(
        vendor_account=vendor_account,
        defaults={
            "per_minute": per_minute,
            "per_day": per_day,
            "recipient_per_hour": recipient_per_hour,
        },
    )
    return policy
