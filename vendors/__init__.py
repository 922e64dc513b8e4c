"""Django-free clients for the telephony vendors behind ccp_console.

One module per vendor code (ccp, igw, huawei, cyj) over `vendors.base`.
Outbound: signed REST calls returning the dataclasses of `vendors.types`, or
raising the exceptions of `vendors.errors`.  Inbound: `authenticate_callback`
and `parse_callback` turn a vendor's webhook into CallRecordData /
CallEventData.  Credentials come in as arguments; nothing here imports Django.

Adding a vendor (ADDING_VENDORS.md is the checklist): `vendors/<code>.py` (a
VendorClient subclass describing the vendor, pure signing functions, a module
docstring citing the document and listing every choice), `sandbox/<code>.py`
(its emulation), their tests, and one line in REGISTRY below.  The Django apps
read the registry; none of them names a vendor code.
"""

from __future__ import annotations

from typing import Any

from .base import EARLIEST_CALL_TIME, MAX_CLOCK_AHEAD, RetryPolicy, VendorClient
from .binding_kinds import BindingKindSpec, BindingRequest
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
    CallbackNonce,
    CallEventData,
    CallOutcome,
    CallRecordData,
    RecordingInfo,
    SmsResult,
    SubAccountData,
    TwoWayCallResult,
    VoiceCodeResult,
)

REGISTRY: dict[str, type[VendorClient]] = {
    "ccp": CcpClient,
    "igw": IgwClient,
    "huawei": HuaweiClient,
    "cyj": CyjClient,
}


def register(cls: type[VendorClient]) -> type[VendorClient]:
    """Add a client class to the registry under its code (usable as a decorator).
    REGISTRY above is how this project's vendors are registered; this is for a
    vendor defined elsewhere (a plug-in, the made-up vendor of the tests)."""
    if not getattr(cls, "code", "") or not getattr(cls, "callback_kinds", ()):
        raise ValueError(f"{cls.__name__} needs a code and callback_kinds")
    if REGISTRY.get(cls.code, cls) is not cls:
        raise ValueError(f"vendor code {cls.code!r} is taken by {REGISTRY[cls.code].__name__}")
    taken = {k.code for c in REGISTRY.values() if c is not cls for k in c.binding_kinds}
    for spec in cls.binding_kinds:
        if spec.vendor != cls.code or spec.code in taken:
            raise ValueError(
                f"binding kind {spec.code!r}: needs vendor {cls.code!r} and a free code"
            )
    REGISTRY[cls.code] = cls
    return cls


def unregister(code: str) -> None:
    """Remove a vendor added with `register` (a no-op for an unknown code)."""
    REGISTRY.pop(code, None)


def choices() -> list[tuple[str, str]]:
    """(code, label) of every registered vendor: the console's vendor choices.
    A callable, so a vendor registered later appears without a migration."""
    return [(code, cls.label or code) for code, cls in REGISTRY.items()]


def get_client(vendor: str, **kwargs: Any) -> VendorClient:
    """Instantiate the client for `vendor` with VendorClient's keyword args."""
    try:
        cls = REGISTRY[vendor]
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(REGISTRY)}") from None
    return cls(**kwargs)


__all__ = [
    "EARLIEST_CALL_TIME",
    "MAX_CLOCK_AHEAD",
    "REGISTRY",
    "AccountStatus",
    "AuthError",
    "BindingKindSpec",
    "BindingRequest",
    "BindingResult",
    "CallEventData",
    "CallOutcome",
    "CallRecordData",
    "CallbackAuthError",
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
    "TwoWayCallResult",
    "VendorClient",
    "VendorError",
    "VoiceCodeResult",
    "choices",
    "get_client",
    "register",
    "unregister",
]
