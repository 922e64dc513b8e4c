"""Exceptions raised by vendor clients and callback parsers.

Callers branch on the class (and on `retryable`), never on a vendor's code:
each vendor module maps its documented codes onto this small hierarchy in one
class-level table.  The vendor's own code and text stay on the exception for
people (`code`, `message`, `message_en`, `advice`).

`CallbackAuthError` and `InvalidPayload` belong to the inbound side (vendor →
us).  `InvalidPayload` subclasses ValueError so that generic code treating
bad input as a 400 does the right thing without knowing about vendors.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "CallbackAuthError",
    "Conflict",
    "InsufficientBalance",
    "InvalidPayload",
    "InvalidRequest",
    "NetworkError",
    "NotFound",
    "OutboundRefused",
    "PermissionDenied",
    "RateLimited",
    "ResponseError",
    "TemporaryError",
    "VendorError",
]


class VendorError(Exception):
    """A vendor refused or failed a request.

    Attributes: vendor (code such as "igw"), code (the vendor's result code as
    a string, "" when there is none), message (the vendor's original text,
    often Chinese), message_en (English gloss from our table), advice (the
    vendor's documented handling advice, "" when undocumented), http_status.
    Subclasses set `retryable`; only retryable errors are retried by the
    client and should be retried by tasks.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        vendor: str,
        code: str = "",
        message: str = "",
        *,
        message_en: str = "",
        advice: str = "",
        http_status: int | None = None,
    ) -> None:
        self.vendor = vendor
        self.code = str(code)
        self.message = message
        self.message_en = message_en
        self.advice = advice
        self.http_status = http_status
        super().__init__(vendor, self.code, message)

    def __str__(self) -> str:
        text = self.message or self.message_en or "(no message)"
        parts = [f"{self.vendor} error {self.code or '-'}: {text}"]
        if self.message_en and self.message_en != text:
            parts.append(f"({self.message_en})")
        if self.http_status is not None:
            parts.append(f"[HTTP {self.http_status}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vendor!r}, {self.code!r}, {self.message!r})"

    # Celery pickles exceptions; keyword-only attributes would be lost by the
    # default Exception reduction, which only replays self.args.
    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.vendor, self.code, self.message), self.__dict__.copy())


class AuthError(VendorError):
    """Credentials or signature rejected.  Fix the account, do not retry."""


class PermissionDenied(VendorError):
    """Authenticated but not allowed (disabled app, blacklist, ACL)."""


class InvalidRequest(VendorError):
    """The request itself is wrong (parameters, number format)."""


class NotFound(VendorError):
    """The resource (binding, task, number) does not exist."""


class Conflict(VendorError):
    """Duplicate or conflicting request (already bound, repeated reqid)."""


class InsufficientBalance(VendorError):
    """The vendor account has no money left."""


class RateLimited(VendorError):
    """Flow control: retry later, with backoff."""

    retryable = True


class TemporaryError(VendorError):
    """Vendor-side transient failure (5xx, maintenance, timeout inside)."""

    retryable = True


class NetworkError(TemporaryError):
    """We could not talk to the vendor (timeout, connection reset, DNS)."""


class OutboundRefused(VendorError):
    """The outbound host policy refused the vendor's address: nothing was sent.

    Fix the account's base_url or the deployment's allowlist; never retried.
    """


class ResponseError(VendorError):
    """The vendor answered something we cannot parse.

    Not retryable: the request may well have taken effect (a binding made, an
    SMS sent), so a blind retry could duplicate it.
    """


class CallbackAuthError(Exception):
    """An inbound callback failed authentication.

    `reason` says what failed, `expected` describes what we expected (never a
    secret, never a digest derived from one), `received` shows what arrived
    (header values and form fields a vendor sends are not secrets).
    """

    def __init__(self, reason: str, *, expected: str = "", received: str = "") -> None:
        self.reason = reason
        self.expected = expected
        self.received = received
        super().__init__(reason, expected, received)

    def __str__(self) -> str:
        parts = [self.reason]
        if self.expected:
            parts.append(f"expected: {self.expected}")
        if self.received:
            parts.append(f"received: {self.received}")
        return "; ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason,), self.__dict__.copy())


class InvalidPayload(ValueError):
    """A callback body is malformed or misses a required field.

    The only exception `VendorClient.parse_callback` raises; the message says
    what is wrong in plain words so it can be kept on the inbox row.
    """
