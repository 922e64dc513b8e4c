"""cyj: privacy call binding and recording fetch (code "cyj").

Document: vendor-docs/cyj-privacy-call.txt.  §一.1 HTTPS standard headers
(Sig, Authorization), §二 2.1/2.2 bind request/response
(/{SoftVersion}/bind/callEvent/v1, SoftVersion 20171220), §三 3.1 recording
fetch (/{SoftVersion}/bind/callEvent/voice/v1).

Signing (§一.1): Sig = upper(MD5(token + ":" + appId + ":" + timestamp)) in
the URL (?sig=), Authorization = Base64(token:appId:timestamp).  The
Authorization header therefore CONTAINS THE TOKEN: it is never logged (the
base client logs neither headers nor query strings) and never stored.
account_id = the account SID, secret = the account auth token, app_id = APPID.

CHOICES where the document is silent or ambiguous (each is one place here):
- Timestamp yyyyMMddHHmmss "current system time": Asia/Shanghai like ccp
  (the platform is a Chinese cloopen-style service).
- ACCOUNTSID: the table describes it as "账号授权令牌" (token) but the field
  is named SID and the example value is not the signing token: we send
  account_id (`_accountsid`), so the token never travels in a body.
- Direct is sent as a string ("1"), like the JSON example.
- EndMinute: the table asks for 'YYYY-MM-DD'T'hh:mm:ss'Z' in UTC, the example
  shows "25"; we follow the table and omit the field when end_time is None
  (the platform's 30-minute default applies).  VirtualNum and Code are
  omitted when empty.
- Success is Flag == 1 (number or "1"); then Msg is the virtual number, with
  a leading "86" country code stripped for 13-digit values (the note "直接拨打
  该隐私号码的时候不加 86 前缀").  Otherwise Flag is the error code and Msg the
  text.  No error table is documented: failures are non-retryable
  VendorError unless the HTTP status says otherwise.  bind has no idempotency
  key, so it is sent with idempotent=False.
- fetch_recording: the response is undocumented; we read the same envelope,
  {"Flag": 1, "Msg": "<recording URL>"}.
- Neither release nor CDR callbacks are documented.  Release: not offered
  (bindings expire at EndMinute).  CDR: OUR choice, a "cdr" callback with a
  small JSON body {CallIdentifier, Caller, Callee, VirtualNum, StartTime,
  EndTime, Duration, Result, APPID?}; times 'YYYY-MM-DDThh:mm:ssZ' UTC (the
  document's only datetime format); Result is one of the CallOutcome values
  ("answered", "busy", ...), anything else → OTHER.
- Callback authentication: none documented, so only the webhook URL token
  (Django side) protects it; authenticate_callback checks APPID when the
  body has one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from ._util import SHANGHAI, aware, decode_body, get_int, get_str, parse_time
from .base import ErrorRow, Reply, Signature, VendorClient
from .binding_kinds import BindingKindSpec, BindingRequest
from .errors import CallbackAuthError, ResponseError
from .types import BindingResult, CallEventData, CallOutcome, CallRecordData, RecordingInfo

__all__ = ["SOFT_VERSION", "CyjClient", "sign", "timestamp"]

SOFT_VERSION = "20171220"
END_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DIRECTS = (0, 1, 2)


def timestamp(now: datetime | None = None) -> str:
    """yyyyMMddHHmmss in Asia/Shanghai (naive `now` is taken as UTC)."""
    return aware(now).astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


def sign(token: str, app_id: str, timestamp: str) -> tuple[str, str]:
    """Return (Sig, Authorization).  Authorization embeds the token: secret."""
    plain = f"{token}:{app_id}:{timestamp}".encode()
    sig = hashlib.md5(plain).hexdigest().upper()  # noqa: S324 - vendor protocol
    return sig, base64.b64encode(plain).decode("ascii")


# ---------------------------------------------------------------- binding kind
#
# EndMinute defaults to 30 minutes and may not exceed 60 (§二 2.1), so ttl is
# 60..3600 seconds, default 1800; it is sent in the bind request itself, so
# expiry counts from the attempt.  The bind carries no idempotency key.  cyj
# documents no release API (§二: "到期后平台自动解绑"): a release is local and
# the vendor keeps pairing A and B on its X until the end time (a re-bind of the
# pair there is refused, 103001).  cyj may pick the virtual number itself and
# names it as its binding id.
MIN_TTL = 60
MAX_TTL = 3600
DEFAULT_TTL = 1800


def _bind(client: CyjClient, request: BindingRequest) -> BindingResult:
    return client.bind(
        caller=request.a_number,
        callee=request.b_number,
        virtual_number=request.x_number,
        direct=request.direct or 0,
        end_time=request.end_time,
        area_code=request.area_code,
    )


PRIVACY_CALL = BindingKindSpec(
    code="cyj",
    vendor="cyj",
    label="cyj",
    name="cyj",
    choice_label="Privacy call (cyj)",
    ttl_min=MIN_TTL,
    ttl_max=MAX_TTL,
    ttl_default=DEFAULT_TTL,
    form_ttl=DEFAULT_TTL,
    ttl_help=f"{MIN_TTL}..{MAX_TTL} seconds; the vendor unbinds at the end "
    "(EndMinute is at most 60 minutes).",
    inputs=frozenset({"b_number", "direct"}),
    release_confirmation="cyj has no release call: the binding is marked released here and "
    "the vendor unbinds it by itself at its end time.",
    binder=_bind,
    direct_choices=((0, "0 — both ways"), (1, "1 — A calls B only"), (2, "2 — B calls A only")),
    x_help="Leave empty to allocate from the pool, or, with no pool, let the vendor pick.",
    releases_locally=True,
    local_release_note="cyj has no release API: the vendor unbinds at EndMinute",
    bind_idempotent=False,
    end_time_in_bind=True,
    vendor_picks_x=True,
)


class CyjClient(VendorClient):
    """Client for one cyj privacy-call application."""

    code: ClassVar[str] = "cyj"
    label: ClassVar[str] = "CYJ privacy call"
    # Result is one of our outcome names (see the module docstring).
    call_result_codes = {o.value: (o, o.value.replace("_", " ")) for o in CallOutcome}
    callback_kinds: ClassVar[tuple[str, ...]] = ("cdr",)
    # Callbacks are not signed: authenticate_callback checks APPID when present.
    callback_ack: ClassVar[tuple[str, bytes]] = ("application/json", b'{"Flag":1}')  # §2.2
    # No URL in the CDR: fetched by CallIdentifier (§三), for answered calls only,
    # since cyj bindings carry no "record" flag we could check.
    recording_source: ClassVar[str] = "api"
    binding_kinds: ClassVar[tuple[BindingKindSpec, ...]] = (PRIVACY_CALL,)
    credential_names: ClassVar[tuple[str, str, str]] = ("ACCOUNTSID", "token", "APPID")
    error_map: ClassVar[Mapping[str, ErrorRow]] = {}  # none documented

    def _sign(self) -> Signature:
        sig, authorization = sign(self._secret, self.app_id, timestamp())
        return {"sig": sig}, {"Authorization": authorization}

    def _accountsid(self) -> str:
        return self.account_id

    def _interpret(self, response: requests.Response) -> Reply:
        # §2.2: Flag=1 is success, anything else is the failure code with Msg.
        return self._json_envelope(response, code_field="Flag", success="1", message_field="Msg")

    def _post(self, path: str, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json;charset=utf-8",
        }
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self._send("POST", path, data=data, headers=headers, idempotent=idempotent)

    def bind(
        self,
        *,
        caller: str,
        callee: str,
        virtual_number: str = "",
        direct: int = 0,
        end_time: datetime | None = None,
        area_code: str = "",
    ) -> BindingResult:
        """POST /20171220/bind/callEvent/v1 (§二)."""
        if direct not in _DIRECTS:
            raise ValueError(f"cyj: direct must be 0, 1 or 2, not {direct!r}")
        body: dict[str, Any] = {
            "ACCOUNTSID": self._accountsid(),
            "APPID": self.app_id,
            "Caller": caller,
            "Callee": callee,
        }
        if virtual_number:
            body["VirtualNum"] = virtual_number
        body["Direct"] = str(direct)
        if end_time is not None:
            body["EndMinute"] = aware(end_time).astimezone(UTC).strftime(END_FORMAT)
        if area_code:
            body["Code"] = area_code
        payload = self._post(f"/{SOFT_VERSION}/bind/callEvent/v1", body, idempotent=False)
        number = _strip_86(str(payload.get("Msg") or ""))
        if not number:
            raise ResponseError(self.code, "1", "bind succeeded without a number in Msg")
        return BindingResult(vendor_binding_id=number, x_number=number, raw=payload)

    def fetch_recording(self, *, call_identifier: str) -> RecordingInfo:
        """POST /20171220/bind/callEvent/voice/v1 (§三)."""
        body = {
            "ACCOUNTSID": self._accountsid(),
            "APPID": self.app_id,
            "CallIdentifier": call_identifier,
        }
        payload = self._post(f"/{SOFT_VERSION}/bind/callEvent/voice/v1", body, idempotent=True)
        url = str(payload.get("Msg") or "")
        if not url:
            raise ResponseError(self.code, "1", "recording answer without a URL in Msg")
        return RecordingInfo(url=url, raw=payload)

    # ------------------------------------------------------------------ callbacks

    def authenticate_callback(
        self,
        kind: str,
        *,
        headers: Mapping[str, str],
        body: bytes,
        url: str,
        now: datetime | None = None,
    ) -> None:
        """Nothing is signed; check APPID when the body carries one."""
        try:
            fields = json.loads(body)
        except (ValueError, RecursionError):
            return  # parse_callback will reject it with a clear message
        appid = fields.get("APPID") if isinstance(fields, dict) else None
        if self.app_id and appid not in (None, "") and str(appid) != self.app_id:
            raise CallbackAuthError(
                "APPID does not match this account",
                expected=f"APPID={self.app_id}",
                received=f"APPID={appid!s:.64}",
            )

    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        fields = decode_body(body, content_type or "application/json")
        result = get_str(fields, "Result", required=True)
        try:
            outcome = CallOutcome(result.lower())
        except ValueError:
            outcome = CallOutcome.OTHER
        start = _time(fields, "StartTime")
        end = _time(fields, "EndTime")
        return [
            CallRecordData(
                vendor=self.code,
                call_id=get_str(fields, "CallIdentifier", required=True),
                vendor_binding_id=_strip_86(get_str(fields, "VirtualNum")),
                caller=get_str(fields, "Caller"),
                callee=get_str(fields, "Callee"),
                x_number=_strip_86(get_str(fields, "VirtualNum")),
                outcome=outcome,
                raw_code=result,
                raw_text="",
                begin_at=start,
                ring_at=None,
                answer_at=None,
                release_at=end,
                duration=max(get_int(fields, "Duration"), 0),
                release_side="",
                user_data="",
                recording_url="",
                raw=dict(fields),
            )
        ]


def _strip_86(number: str) -> str:
    # 86 + an 11-digit mobile number; shorter values are left alone.
    return number[2:] if number.startswith("86") and len(number) == 13 else number


def _time(fields: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(get_str(fields, key), (END_FORMAT,), UTC, key=key)
