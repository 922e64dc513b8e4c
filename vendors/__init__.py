"""Django-free clients for the telephony vendors behind ccp_console.

One module per vendor code (ccp, igw, huawei, cyj) over `vendors.base`.
Outbound: signed REST calls returning the dataclasses of `vendors.types`, or
raising the exceptions of `vendors.errors`.  Inbound: `authenticate_callback`
and `parse_callback` turn a vendor's webhook into CallRecordData /
CallEventData.  Credentials come in as arguments; nothing here imports Django.

Adding a vendor: write `vendors/<code>.py` (a VendorClient subclass, pure
signing functions, a module docstring citing the document and listing every
choice), tests in tests/vendors/test_<code>.py, a sandbox/<code> emulation,
and one line in REGISTRY below.
"""

from __future__ import annotations

from typing import Any

from .base import EARLIEST_CALL_TIME, MAX_CLOCK_AHEAD, RetryPolicy, VendorClient
from .ccp import CcpClient
from .cyj import CyjClient
from .errors import (
    AuthError,
    CallbackAuthError,
    Conflict,
    InsufficientBalance,
    InvalidPayload,
    InvalidRequest,
    NetworkError,
    NotFound,
    OutboundRefused,
    PermissionDenied,
    RateLimited,
    ResponseError,
    TemporaryError,
    VendorError,
)
from .huawei import HuaweiClient
from .igw import IgwClient
from .types import (
    AccountStatus,
    BindingResult,
    CallbackCallResult,
    CallbackNonce,
    CallEventData,
    CallOutcome,
    CallRecordData,
    RecordingInfo,
    SmsResult,
    SubAccountData,
    VoiceCodeResult,
)

REGISTRY: dict[str, type[VendorClient]] = {
    "ccp": CcpClient,
    "igw": IgwClient,
    "huawei": HuaweiClient,
    "cyj": CyjClient,
}

VENDOR_CODES: tuple[str, ...] = tuple(REGISTRY)


def get_client(vendor: str, **kwargs: Any) -> VendorClient:
    """Instantiate the client for `vendor` with VendorClient's keyword args."""
    try:
        cls = REGISTRY[vendor]
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDOR_CODES)}") from None
    return cls(**kwargs)


__all__ = [
    "EARLIEST_CALL_TIME",
    "MAX_CLOCK_AHEAD",
    "REGISTRY",
    "VENDOR_CODES",
    "AccountStatus",
    "AuthError",
    "BindingResult",
    "CallEventData",
    "CallOutcome",
    "CallRecordData",
    "CallbackAuthError",
    "CallbackCallResult",
    "CallbackNonce",
    "CcpClient",
    "Conflict",
    "CyjClient",
    "HuaweiClient",
    "IgwClient",
    "InsufficientBalance",
    "InvalidPayload",
    "InvalidRequest",
    "NetworkError",
    "NotFound",
    "OutboundRefused",
    "PermissionDenied",
    "RateLimited",
    "RecordingInfo",
    "ResponseError",
    "RetryPolicy",
    "SmsResult",
    "SubAccountData",
    "TemporaryError",
    "VendorClient",
    "VendorError",
    "VoiceCodeResult",
    "get_client",
]
