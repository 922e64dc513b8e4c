"""Normalized, vendor-neutral results and callback data.

The Django apps (privacy/, messaging/, callbacks/) only ever see these
dataclasses, never a vendor's field names.  Every vendor module translates its
own answers into them; `raw` keeps what the vendor sent (minus any secret) so
nothing is lost when a field has no normalized home.

All datetimes are timezone-aware.  Dataclasses are frozen: a parsed record is a
fact, copy it with `dataclasses.replace` if a caller needs to adjust one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "ACCOUNT_STATES",
    "CALL_EVENT_KINDS",
    "RELEASE_SIDES",
    "AccountStatus",
    "BindingResult",
    "CallEventData",
    "CallOutcome",
    "CallRecordData",
    "CallbackItem",
    "CallbackNonce",
    "RecordingInfo",
    "SmsResult",
    "SubAccountData",
    "TwoWayCallResult",
    "VoiceCodeResult",
]


class CallOutcome(StrEnum):
    """How a call ended, as one small vocabulary across vendors."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    INVALID_NUMBER = "invalid_number"
    BLOCKED = "blocked"
    FAILED = "failed"
    OTHER = "other"


# Closed vocabularies for the plain-str fields below (kept as str so the
# Django side can store them in CharFields with choices).
ACCOUNT_STATES: tuple[str, ...] = ("trial", "active", "suspended", "closed", "unknown")
CALL_EVENT_KINDS: tuple[str, ...] = ("call_start", "callout", "alerting", "answer", "disconnect")
RELEASE_SIDES: tuple[str, ...] = ("caller", "callee", "platform", "")


@dataclass(frozen=True, slots=True)
class BindingResult:
    """A privacy-number binding the vendor accepted.

    igw AXB: the subid; igw XA: "" (XA has no subid, the X number is the key);
    cyj: the virtual number returned in Msg.
    """

    vendor_binding_id: str
    x_number: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """Vendor account state and money (yuan), when the vendor reports them."""

    state: str  # one of ACCOUNT_STATES
    balance: Decimal | None = None
    overdraft: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubAccountData:
    """A ccp sub-account.  sub_token and voip_password are secrets: the caller
    must encrypt them at rest; they are deliberately absent from `raw`."""

    sub_account_sid: str
    sub_token: str
    voip_account: str
    voip_password: str
    friendly_name: str
    status: str
    type: str = ""  # the answer's `type`, kept verbatim (the guide prints it, defines no values)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmsResult:
    message_id: str
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TwoWayCallResult:
    """A ccp two-way (callback) call the platform started."""

    call_sid: str
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VoiceCodeResult:
    """A huawei voice verification code call the platform accepted."""

    session_id: str
    idle_ports: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """Where to download a cyj recording (links expire: download promptly)."""

    url: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallRecordData:
    """One call detail record (CDR), normalized.

    call_id is the vendor's unique id for the call (igw taskid, huawei
    sessionId, ccp callSid, cyj CallIdentifier) and is the dedup key together
    with `vendor`.  raw_code/raw_text keep the vendor's own result code/text.
    """

    vendor: str
    call_id: str
    vendor_binding_id: str
    caller: str
    callee: str
    x_number: str
    outcome: CallOutcome
    raw_code: str = ""
    raw_text: str = ""
    begin_at: datetime | None = None
    ring_at: datetime | None = None
    answer_at: datetime | None = None
    release_at: datetime | None = None
    duration: int = 0  # seconds
    release_side: str = ""  # one of RELEASE_SIDES
    user_data: str = ""
    recording_url: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallEventData:
    """One call status event (call start, ringing, answer, hang-up...)."""

    vendor: str
    call_id: str
    kind: str  # one of CALL_EVENT_KINDS
    occurred_at: datetime
    caller: str = ""
    callee: str = ""
    x_number: str = ""
    vendor_binding_id: str = ""
    user_data: str = ""
    state_code: str = ""
    state_text: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


# What parse_callback returns a list of.
CallbackItem = CallRecordData | CallEventData


@dataclass(frozen=True, slots=True)
class CallbackNonce:
    """A callback's single-use value (huawei X-AKSK Nonce) and the moment after
    which its signature is stale anyway, so remembering it longer is useless."""

    value: str
    expires_at: datetime
