"""igw: privacy numbers, AXB bindings and XA transfers (code "igw").

Document: vendor-docs/igw-privacy-axb-xa.txt.  §1 error codes, §2.1 Keytime
signature, §3.1 account status, §4.1 AXB bind, §4.2 AXB release, §4.3 XA
open, §4.4 XA release, §5.1 CDR callback, §5.2 result codes, §5.3 call-start
callback.

Signing (§2.1): header `Authorization: Keytime {devid},{ts_ms},{sig}` with
sig = lowercase hex sha256(key + str(ts_ms)), characters [24:40] (the
document's Java `substring(24, 40)`), timestamp in epoch milliseconds and
valid for three minutes.  account_id = devid (开发者 ID), secret = the
developer auth key, app_id = APP ID.

CHOICES where the document is silent or ambiguous (each is one place here):
- reqid is the caller's idempotency key: it is sent unchanged on every retry,
  so all four binding calls retry timeouts and 5xx (`_send(idempotent=True)`).
- HTTP 401 is an AuthError whatever the body says (§1: "401 认证失败").
- Error classes for vague codes (`error_map` comments): 1000 and 1401 are
  treated as transient; 1400 and 1502 as permanent; 1301 "资源不足" (no free
  capacity on the X number/pool) as Conflict: repeating the same request
  cannot help, pick another X.
- §5.2 result → CallOutcome (`RESULT_OUTCOMES`).  16 and 31 (normal
  clearing) in a CDR whose result is not "answered": ANSWERED when the CDR
  has an answerTime, else NO_ANSWER (the caller hung up before the callee
  answered).  Codes not in the table ("其他: 因后端运营商而变动") → OTHER.
- §5.1 says "其它见 3.5 节": the table is §5.2.  Times 0/absent → None.
- releasedir 1 caller, 2 callee, 0 platform; anything else "".
- Callbacks are form-encoded; JSON ("需联系运维配置") is also accepted.
- Callback authentication: igw signs nothing, so `authenticate_callback`
  checks the body's devid == account_id and appid == app_id (when both
  sides have one); the webhook URL token is the real gate.
- XA has no subid: BindingResult("", x_number).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from ._util import decode_body, from_epoch, get_int, get_str, header
from .base import ErrorRow, Reply, Signature, VendorClient
from .binding_kinds import BindingKindSpec, BindingRequest
from .errors import (
    AuthError,
    CallbackAuthError,
    Conflict,
    InsufficientBalance,
    InvalidPayload,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseError,
    TemporaryError,
    VendorError,
)
from .types import AccountStatus, BindingResult, CallEventData, CallOutcome, CallRecordData

__all__ = ["RESULT_OUTCOMES", "RESULT_TEXT", "IgwClient", "keytime"]

_ACCOUNT_STATES = {0: "trial", 1: "active", 2: "suspended", 3: "closed"}
_RELEASE_SIDES = {"1": "caller", "2": "callee", "0": "platform"}
_AXB_DISPLAYS = ("0,0", "0,1", "1,0", "1,1")

_O = CallOutcome
# §5.2, every documented value: code -> (outcome, the document's text).
_RESULTS: dict[str, tuple[CallOutcome, str]] = {
    "answered": (_O.ANSWERED, "呼叫成功"),
    "1": (_O.INVALID_NUMBER, "未分配的号码 (被叫手机号码为空号)"),
    "2": (_O.UNREACHABLE, "无路由到指定的转接网"),
    "3": (_O.UNREACHABLE, "无路由到目的地"),
    "4": (_O.UNREACHABLE, "发送专用信息音"),  # SIT tone: the network could not complete
    "16": (_O.NO_ANSWER, "正常的呼叫拆线"),  # odd: see docstring, ANSWERED if answerTime
    "17": (_O.BUSY, "用户忙"),
    "18": (_O.NO_ANSWER, "用户未响应"),
    "19": (_O.NO_ANSWER, "用户未应答"),
    "20": (_O.NO_ANSWER, "用户缺席"),  # absent subscriber: phone off, no coverage
    "21": (_O.REJECTED, "呼叫拒收"),
    "22": (_O.INVALID_NUMBER, "号码改变"),
    "27": (_O.UNREACHABLE, "目的地不可达"),
    "28": (_O.INVALID_NUMBER, "无效的号码格式 (地址不全)"),
    "29": (_O.FAILED, "性能拒绝"),
    "31": (_O.NO_ANSWER, "正常—未指定"),  # odd: like 16
    "34": (_O.UNREACHABLE, "无电路/通路可用"),
    "42": (_O.UNREACHABLE, "交换设备拥塞"),
    "50": (_O.BLOCKED, "所请求的性能未预定"),  # facility not subscribed: a permission
    "53": (_O.BLOCKED, "CUG 中限制去呼叫"),
    "55": (_O.BLOCKED, "CUG 中限制来呼叫"),
    "57": (_O.BLOCKED, "承载能力无权 (被叫手机号码未开通呼叫权限)"),
    "58": (_O.UNREACHABLE, "承载能力目前不可用"),
    "65": (_O.FAILED, "承载能力未实现"),
    "69": (_O.FAILED, "所请求的性能未实现"),
    "87": (_O.BLOCKED, "被叫用户不是 CUG 的成员"),
    "88": (_O.FAILED, "不兼容的目的地"),
    "90": (_O.BLOCKED, "不存在的 CUG"),  # a closed-user-group restriction, like 53/55/87
    "91": (_O.FAILED, "无效的转接网选择"),
    "95": (_O.FAILED, "无效的消息, 未指定"),
    "97": (_O.FAILED, "消息类型不存在或未实现"),
    "99": (_O.FAILED, "参数不存在或未实现"),
    "102": (_O.FAILED, "定时器终了时恢复"),
    "103": (_O.FAILED, "参数不存在或未实现—传递"),
    "110": (_O.FAILED, "消息带有未被识别的参数—舍弃"),
    "111": (_O.FAILED, "协议错误, 未指定"),
    "127": (_O.FAILED, "互通, 未指定"),
    "202": (_O.BUSY, "用户忙, MSRN 获取失败, 平台挂机"),
    "203": (_O.UNREACHABLE, "用户去活, 平台挂机"),
    "204": (_O.UNREACHABLE, "用户在平台侧关机，平台挂机"),
    "205": (_O.INVALID_NUMBER, "用户未开户，平台挂机"),  # no such subscriber on the platform
    "206": (_O.BLOCKED, "小号不允许呼叫，平台挂机"),
    "207": (_O.BLOCKED, "主号拨打小号，平台挂机"),
    "209": (_O.BLOCKED, "主叫打小号带原始被叫，平台挂机"),
}
del _O

RESULT_OUTCOMES: dict[str, CallOutcome] = {code: row[0] for code, row in _RESULTS.items()}
RESULT_TEXT: dict[str, str] = {code: row[1] for code, row in _RESULTS.items()}
_NORMAL_CLEARING = frozenset({"16", "31"})


def keytime(devid: str, key: str, ts_ms: int) -> str:
    """The whole Authorization header value (§2.1)."""
    digest = hashlib.sha256(f"{key}{ts_ms}".encode()).hexdigest()
    return f"Keytime {devid},{ts_ms},{digest[24:40]}"


# ---------------------------------------------------------------- binding kinds
#
# The document requires an AXB ttl (seconds) and names no maximum. We cap both
# kinds at 7 days: a privacy pairing (a ride, a delivery) lives hours, and a
# forgotten week-long pairing holds an X slot the pool needs.  XA's ttl is
# optional, 0 meaning "until released" (§4.3).  The form starts AXB at one hour,
# long enough for a ride or a delivery call-back.  Every bind carries `reqid`, so
# a redelivered bind is safe; releases are vendor calls (§4.2, §4.4).  An XA
# transfer forwards every call to X, so X carries it alone, and its calls carry
# no subid: they are linked to it by X.
MAX_TTL = 7 * 24 * 3600
AXB_FORM_TTL = 3600
_RELEASE_TEXT = "The vendor is asked to unbind it; calls to X stop reaching these numbers."


def _bind_axb(client: IgwClient, request: BindingRequest) -> BindingResult:
    return client.bind_axb(
        x_number=request.x_number,
        a_number=request.a_number,
        b_number=request.b_number,
        reqid=request.reqid,
        ttl=request.ttl,
        record=request.record,
        display=request.display or _AXB_DISPLAYS[0],
        anucode=request.anucode,
        ansanu=request.ansanu,
        user_data=request.user_data,
    )


def _release_axb(client: IgwClient, request: BindingRequest) -> None:
    client.release_axb(subid=request.vendor_binding_id)


def _bind_xa(client: IgwClient, request: BindingRequest) -> BindingResult:
    return client.bind_xa(
        x_number=request.x_number,
        a_number=request.a_number,
        reqid=request.reqid,
        ttl=request.ttl,
        record=request.record,
        display=int(request.display or "0"),
        anucode=request.anucode,
        user_data=request.user_data,
    )


def _release_xa(client: IgwClient, request: BindingRequest) -> None:
    # igw releases an XA by its X alone (§4.4).
    client.release_xa(x_number=request.x_number)


AXB = BindingKindSpec(
    code="axb",
    vendor="igw",
    label="igw AXB",
    name="AXB",
    choice_label="AXB (igw)",
    ttl_min=1,
    ttl_max=MAX_TTL,
    ttl_default=None,
    ttl_help=f"Required, 1..{MAX_TTL} seconds (7 days).",
    form_ttl=AXB_FORM_TTL,
    inputs=frozenset({"b_number", "display", "anucode", "ansanu", "user_data", "record"}),
    release_confirmation=_RELEASE_TEXT,
    binder=_bind_axb,
    releaser=_release_axb,
    display_choices=(
        ("0,0", "0,0 — both parties see X"),
        ("0,1", "0,1 — B sees X; A sees B's real number"),
        ("1,0", "1,0 — B sees A's real number; A sees X"),
        ("1,1", "1,1 — both see the real numbers"),
    ),
)
XA = BindingKindSpec(
    code="xa",
    vendor="igw",
    label="igw XA",
    name="XA",
    choice_label="XA transfer (igw)",
    ttl_min=0,
    ttl_max=MAX_TTL,
    ttl_default=0,
    form_ttl=0,
    ttl_help=f"0 or empty: until released; at most {MAX_TTL} seconds (7 days).",
    inputs=frozenset({"display", "anucode", "user_data", "record"}),
    release_confirmation=_RELEASE_TEXT,
    binder=_bind_xa,
    releaser=_release_xa,
    display_choices=(("0", "0 — show X"), ("1", "1 — show real caller")),
    exclusive_x=True,
    calls_linked_by_x=True,
)


class IgwClient(VendorClient):
    """Client for one igw developer account and app."""

    code: ClassVar[str] = "igw"
    label: ClassVar[str] = "IGW privacy numbers (AXB / XA)"
    call_result_codes = _RESULTS
    callback_kinds: ClassVar[tuple[str, ...]] = ("cdr", "call-start")
    # Callbacks are not signed: authenticate_callback checks devid/appid in the body.
    callback_ack: ClassVar[tuple[str, bytes]] = ("application/json", b'{"error":0}')  # §1: 0 = ok
    recording_source: ClassVar[str] = "url"  # §5.1 `recording`
    supports_account_status: ClassVar[bool] = True
    binding_kinds: ClassVar[tuple[BindingKindSpec, ...]] = (AXB, XA)
    credential_names: ClassVar[tuple[str, str, str]] = ("devid", "auth key", "appid")
    error_map: ClassVar[Mapping[str, ErrorRow]] = {
        "1000": (TemporaryError, "Service access error"),  # vague; reqid makes a retry safe
        "1001": (InvalidRequest, "URL mapping mismatch"),  # our path is wrong: a bug, not weather
        "1002": (InvalidRequest, "Invalid parameters"),
        "1003": (InvalidRequest, "Wrong verification code"),
        "1004": (Conflict, "Duplicate submission"),
        "1100": (AuthError, "Account does not exist"),
        "1101": (AuthError, "Account authentication failed"),
        "1102": (PermissionDenied, "Account disabled"),
        "1103": (PermissionDenied, "Account permission not enabled"),
        "1104": (PermissionDenied, "ACL restriction"),
        "1105": (RateLimited, "Rate limit / flow control"),
        "1110": (InsufficientBalance, "Insufficient account balance"),
        "1200": (NotFound, "Task does not exist"),
        "1201": (Conflict, "Task conflict or duplicate"),
        "1300": (NotFound, "Resource does not exist"),
        "1301": (Conflict, "Insufficient resources"),  # X number full: choose another X
        "1302": (Conflict, "Resource configuration conflict"),
        "1400": (VendorError, "Task launch failed"),  # permanent until someone looks
        "1401": (TemporaryError, "Task launch timed out"),
        "1500": (TemporaryError, "Temporary system failure"),
        "1501": (TemporaryError, "System maintenance"),
        "1502": (VendorError, "System operation failed"),  # not flagged temporary, unlike 1500
    }

    def _sign(self) -> Signature:
        return {}, {"Authorization": keytime(self.account_id, self._secret, _now_ms())}

    def _interpret(self, response: requests.Response) -> Reply:
        if response.status_code == 401:
            # §1: 401 means authentication failed, whatever code came along.
            try:
                payload = response.json()
            except ValueError:
                payload = None
            fields = payload if isinstance(payload, dict) else {}
            code = str(fields.get("error") or "")
            row = self.error_map.get(code)
            gloss = row[1] if row else "Authentication failed (HTTP 401)"
            reason = str(fields.get("reason") or "")
            err = AuthError(self.code, code or "401", reason, message_en=gloss, http_status=401)
            return Reply(payload, code, err)
        # §1: error 0 is success; reason carries the text.
        return self._json_envelope(
            response, code_field="error", success="0", message_field="reason"
        )

    # ------------------------------------------------------------------ API

    def account_status(self) -> AccountStatus:
        """GET /api/v1/account/status (§3.1)."""
        payload = self._send("GET", "/api/v1/account/status")
        state = payload.get("state")
        return AccountStatus(
            state=_ACCOUNT_STATES.get(state, "unknown") if isinstance(state, int) else "unknown",
            balance=_decimal(payload.get("balance")),
            overdraft=_decimal(payload.get("overdraft")),
            created_at=_millis(payload.get("createTime")),
            updated_at=_millis(payload.get("updateTime")),
            raw=payload,
        )

    def bind_axb(
        self,
        *,
        x_number: str,
        a_number: str,
        b_number: str,
        reqid: str,
        ttl: int,
        record: bool = False,
        display: str = "0,0",
        anucode: str = "",
        ansanu: str = "",
        user_data: str = "",
    ) -> BindingResult:
        """PUT /igw/service/uc/interline/{x} (§4.1).  Keep `reqid` for retries."""
        if display not in _AXB_DISPLAYS:
            raise ValueError(f"igw: display must be one of {_AXB_DISPLAYS}, not {display!r}")
        form = self._form(
            reqid,
            anum=a_number,
            bnum=b_number,
            ttl=str(int(ttl)),
            record="1" if record else "0",
            display=display,
            anucode=anucode,
            ansanu=ansanu,
            userData=user_data,
        )
        payload = self._put(f"/igw/service/uc/interline/{_seg(x_number)}", form)
        subid = str(payload.get("subid") or "")
        if not subid:
            raise ResponseError(self.code, "0", "AXB bind answered success without subid")
        return BindingResult(vendor_binding_id=subid, x_number=x_number, raw=payload)

    def release_axb(self, *, subid: str) -> None:
        """DELETE /igw/service/uc/interline?appid=…&subid=… (§4.2)."""
        params = {"appid": self.app_id, "subid": subid}
        self._send("DELETE", "/igw/service/uc/interline", params=params)

    def bind_xa(
        self,
        *,
        x_number: str,
        a_number: str,
        reqid: str,
        ttl: int = 0,
        record: bool = False,
        display: int = 0,
        anucode: str = "",
        user_data: str = "",
    ) -> BindingResult:
        """PUT /igw/service/uc/interline/{x}/transfer (§4.3); ttl 0 = forever."""
        if display not in (0, 1):
            raise ValueError(f"igw: XA display must be 0 or 1, not {display!r}")
        form = self._form(
            reqid,
            anum=a_number,
            anucode=anucode,
            record="1" if record else "0",
            display=str(display),
            ttl=str(int(ttl)),
            userData=user_data,
        )
        payload = self._put(f"/igw/service/uc/interline/{_seg(x_number)}/transfer", form)
        return BindingResult(vendor_binding_id="", x_number=x_number, raw=payload)

    def release_xa(self, *, x_number: str) -> None:
        """DELETE /igw/service/uc/interline/{x}/transfer?appid=… (§4.4)."""
        path = f"/igw/service/uc/interline/{_seg(x_number)}/transfer"
        self._send("DELETE", path, params={"appid": self.app_id})

    def _form(self, reqid: str, **fields: str) -> dict[str, str]:
        if not reqid:
            raise ValueError("igw: reqid is required (it is the idempotency key)")
        # Optional fields are omitted when empty, so the platform applies its defaults.
        form = {"appid": self.app_id, "reqid": reqid}
        form.update({k: v for k, v in fields.items() if v != ""})
        return form

    def _put(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        # `form` is built once by the caller, so reqid is identical on every attempt.
        return self._send("PUT", path, data=form, headers={"Accept": "application/json"})

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
        """No signature exists: check devid and appid in the body."""
        try:
            fields = decode_body(body, header(headers, "Content-Type"))
        except InvalidPayload as exc:
            raise CallbackAuthError(
                f"cannot read devid from the body: {exc}",
                expected=f"devid={self.account_id}",
                received="",
            ) from None
        devid = fields.get("devid")
        if str(devid) != self.account_id:
            raise CallbackAuthError(
                "devid does not match this account",
                expected=f"devid={self.account_id}",
                received=f"devid={devid!s:.64}" if devid is not None else "no devid field",
            )
        appid = fields.get("appid")
        if self.app_id and appid not in (None, "") and str(appid) != self.app_id:
            raise CallbackAuthError(
                "appid does not match this account",
                expected=f"appid={self.app_id}",
                received=f"appid={appid!s:.64}",
            )

    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        fields = decode_body(body, content_type)
        if kind == "call-start":
            return [self._call_start(fields)]
        return [self._cdr(fields)]

    def _cdr(self, fields: dict[str, Any]) -> CallRecordData:
        result = get_str(fields, "result", required=True)
        answer_at = from_epoch(get_int(fields, "answerTime"), key="answerTime")
        outcome = RESULT_OUTCOMES.get(result, CallOutcome.OTHER)
        if result in _NORMAL_CLEARING and answer_at is not None:
            outcome = CallOutcome.ANSWERED
        begin = from_epoch(get_int(fields, "beginTime"), key="beginTime")
        if begin is None:
            raise InvalidPayload("missing required field 'beginTime'")
        return CallRecordData(
            vendor=self.code,
            call_id=get_str(fields, "taskid", required=True),
            vendor_binding_id=get_str(fields, "subid"),
            caller=get_str(fields, "caller"),
            callee=get_str(fields, "callee"),
            x_number=get_str(fields, "rcaller"),
            outcome=outcome,
            raw_code=result,
            raw_text=RESULT_TEXT.get(result, ""),
            begin_at=begin,
            ring_at=from_epoch(get_int(fields, "ringTime"), key="ringTime"),
            answer_at=answer_at,
            release_at=from_epoch(get_int(fields, "releaseTime"), key="releaseTime"),
            duration=max(get_int(fields, "duration"), 0),
            release_side=_RELEASE_SIDES.get(get_str(fields, "releasedir"), ""),
            user_data=get_str(fields, "userData"),
            recording_url=get_str(fields, "recording"),
            raw=dict(fields),
        )

    def _call_start(self, fields: dict[str, Any]) -> CallEventData:
        occurred = from_epoch(get_int(fields, "callTime"), key="callTime")
        if occurred is None:
            raise InvalidPayload("missing required field 'callTime'")
        return CallEventData(
            vendor=self.code,
            call_id=get_str(fields, "taskid", required=True),
            kind="call_start",
            occurred_at=occurred,
            caller=get_str(fields, "caller"),
            callee=get_str(fields, "callee"),
            x_number=get_str(fields, "rcaller"),
            vendor_binding_id=get_str(fields, "subid"),
            user_data=get_str(fields, "userData"),
            raw=dict(fields),
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _seg(number: str) -> str:
    return quote(number, safe="")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        # str() of a float is its shortest round-trip form: 12.3 -> Decimal("12.3").
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _millis(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    try:
        return from_epoch(value // 1000, key="time")
    except InvalidPayload:
        return None
