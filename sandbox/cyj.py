"""The cyj privacy-call simulator, under /sandbox/cyj.

Document: vendor-docs/cyj-privacy-call.txt: §一.1 headers (Sig, Authorization),
§二 bind (2.1 request, 2.2 response), §三 recording fetch.

Endpoints (JSON answers {"Flag": …, "Msg": …}):
  POST /20171220/bind/callEvent/v1?sig=…        bind -> Flag 1, Msg "86" + virtual number
  POST /20171220/bind/callEvent/voice/v1?sig=…  recording -> Flag 1, Msg recording URL

Authentication (§一.1): Authorization = Base64(token:appId:timestamp) and
sig = upper(MD5(token:appId:timestamp)), computed with vendors.cyj.sign.  The
body's ACCOUNTSID names the account (vendors/cyj.py sends the account SID
there), APPID must be its app.

CHOICES (the document has no error table; vendors/cyj.py treats any Flag but 1
as a non-retryable error, classed by HTTP status):
  Flag   HTTP  meaning
  101001 401   Authorization missing, not Base64, or not token:appId:timestamp
  101002 401   sig query parameter missing
  101003 401   sig or the token in Authorization wrong
  101004 401   timestamp not yyyyMMddHHmmss, or more than 24 hours from now
               (Beijing time, like ccp: the document gives no window)
  101005 401   ACCOUNTSID unknown (account not found)
  101006 401   APPID (body or Authorization) is not the account's
  101007 403   account suspended or closed
  102001 200   body not JSON, or a parameter missing/invalid
  102002 200   EndMinute out of range
  103001 200   no virtual number free (VirtualNum busy for these parties, or
               not the account's)
  103002 200   CallIdentifier unknown
- Caller/Callee: 5-20 digits, different.  Direct 0/1/2 (default 0).
- EndMinute: the table says a UTC time 'YYYY-MM-DDThh:mm:ssZ', the example
  says "25" (minutes) and the notes say "default 30 minutes, at most 60".
  Both forms are accepted: whole minutes 1-60, or a UTC time later than now
  and at most 60 minutes ahead.  Absent: 30 minutes.
- VirtualNum is used when given (refused with 103001 if a party already has
  an active binding on it); otherwise Code is ignored and a number is picked
  from the account's numbers (or a 171 number invented when it lists none).
- The recording fetch answers the URL as soon as the call exists; the file
  itself follows the call's late-recording chaos (404 until ready).  A call
  without a recording answers 103002.
- The "cdr" callback is the JSON vendors/cyj.py parses: {CallIdentifier,
  Caller, Callee, VirtualNum ("86"+number), StartTime, EndTime, Duration,
  Result, APPID}, times UTC 'YYYY-MM-DDThh:mm:ssZ', Result a CallOutcome
  value.  Nothing is signed (none is documented).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sandbox import protocol, services
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxBinding, SandboxCall
from sandbox.protocol import Exchange, Rejection, Route
from vendors import cyj as vendor
from vendors.types import CallOutcome

SHANGHAI = ZoneInfo("Asia/Shanghai")
WINDOW = timedelta(hours=24)
DEFAULT_MINUTES = 30
MAX_MINUTES = 60

MESSAGES: dict[str, str] = {
    "101001": "Authorization 验证信息有误",
    "101002": "Sig 参数为空",
    "101003": "Sig 校验失败",
    "101004": "时间戳有误或已过期",
    "101005": "账号不存在",
    "101006": "应用 ID 不匹配",
    "101007": "账号已停用",
    "102001": "请求参数有误",
    "102002": "EndMinute 超出范围 (最大 60 分钟)",
    "103001": "无可用虚拟号码",
    "103002": "话单不存在",
}
_STATUS = {code: 401 for code in MESSAGES if code.startswith("1010")} | {"101007": 403}
OUTCOMES = tuple(str(o) for o in CallOutcome if o is not CallOutcome.OTHER)


def _reject(code: str, verdict: str, detail: str = "") -> Rejection:
    text = MESSAGES[code] + (f": {detail}" if detail else "")
    return Rejection(verdict, code, text, http_status=_STATUS.get(code, 200))


def render_rejection(exchange: Exchange, rejection: Rejection) -> HttpResponse:
    return JsonResponse(
        {"Flag": rejection.code, "Msg": rejection.message}, status=rejection.http_status
    )


def _body(exchange: Exchange) -> dict[str, Any]:
    try:
        body = json.loads(exchange.request.body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise _reject("102001", protocol.INVALID, "body is not JSON") from None
    if not isinstance(body, dict):
        raise _reject("102001", protocol.INVALID, "body must be a JSON object")
    return body


def authenticate(exchange: Exchange, body: dict[str, Any]) -> SandboxAccount:
    request = exchange.request
    header = request.headers.get("Authorization", "").strip()
    try:
        decoded = base64.b64decode(header, validate=True).decode("utf-8") if header else ""
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    parts = decoded.split(":")
    token, app_id, stamp = parts if len(parts) == 3 else ("", "", "")
    if not (token and app_id and stamp):
        raise _reject("101001", protocol.AUTH_FAILED)
    sig = request.GET.get("sig", "")
    if not sig:
        raise _reject("101002", protocol.AUTH_FAILED)
    try:
        moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise _reject("101004", protocol.AUTH_FAILED, "timestamp is not yyyyMMddHHmmss") from None
    if abs(timezone.now() - moment) > WINDOW:
        raise _reject("101004", protocol.STALE, stamp)
    sid = body.get("ACCOUNTSID")
    if not isinstance(sid, str) or not sid:
        raise _reject("102001", protocol.INVALID, "ACCOUNTSID is required")
    account = SandboxAccount.objects.filter(vendor="cyj", account_id=sid).first()
    if account is None:
        raise _reject("101005", protocol.UNKNOWN_ACCOUNT)
    exchange.account = account
    if app_id != account.app_id or body.get("APPID") != account.app_id:
        raise _reject("101006", protocol.AUTH_FAILED)
    expected_sig, _ = vendor.sign(account.secret, account.app_id, stamp)
    token_ok = hmac.compare_digest(token.encode(), account.secret.encode())
    sig_ok = hmac.compare_digest(sig.encode(), expected_sig.encode())
    if not (token_ok and sig_ok):
        raise _reject("101003", protocol.AUTH_FAILED)
    if not account.usable:
        raise _reject("101007", protocol.REFUSED)
    protocol.api_chaos(account)
    return account


def _number(body: dict[str, Any], key: str, *, required: bool) -> str:
    value = body.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not (
        value.isdigit() and value.isascii() and 5 <= len(value) <= 20
    ):
        raise _reject("102001", protocol.INVALID, f"{key} must be 5-20 digits")
    return value


def end_time(value: Any, *, now: datetime) -> datetime:
    """EndMinute in either documented form (see CHOICES)."""
    if value in (None, ""):
        return now + timedelta(minutes=DEFAULT_MINUTES)
    text = str(value)
    # isascii(): "²".isdigit() is true but int("²") fails; 4 digits cover every valid value.
    if text.isdigit() and text.isascii():
        minutes = int(text) if len(text) <= 4 else MAX_MINUTES + 1
        if not 1 <= minutes <= MAX_MINUTES:
            raise _reject("102002", protocol.INVALID, text)
        return now + timedelta(minutes=minutes)
    try:
        moment = datetime.strptime(text, vendor.END_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _reject(
            "102001", protocol.INVALID, "EndMinute is neither minutes nor YYYY-MM-DDThh:mm:ssZ"
        ) from None
    if not now < moment <= now + timedelta(minutes=MAX_MINUTES, seconds=5):
        raise _reject("102002", protocol.INVALID, text)
    return moment


def bind(exchange: Exchange) -> HttpResponse:
    body = _body(exchange)
    account = authenticate(exchange, body)
    caller = _number(body, "Caller", required=True)
    callee = _number(body, "Callee", required=True)
    if caller == callee:
        raise _reject("102001", protocol.INVALID, "Caller and Callee must differ")
    virtual = _number(body, "VirtualNum", required=False)
    direct = str(body.get("Direct", "0"))
    if direct not in ("0", "1", "2"):
        raise _reject("102001", protocol.INVALID, "Direct must be 0, 1 or 2")
    expires = end_time(body.get("EndMinute"), now=timezone.now())
    try:
        if virtual:
            if account.numbers and services.national(virtual) not in account.numbers:
                raise services.SandboxStateError("no_number", f"{virtual} is not this account's")
        else:
            virtual = services.allocate_number(account=account, parties=[caller, callee])
        binding, _ = services.binding_create(
            account=account,
            kind=SandboxBinding.Kind.CYJ,
            x_number=virtual,
            a_number=caller,
            b_number=callee,
            expires_at=expires,
            record=True,
            params={"Direct": direct, "Code": str(body.get("Code") or "")},
            sandbox_base_url=exchange.sandbox_base_url,
        )
    except services.SandboxStateError as exc:
        raise _reject("103001", protocol.CONFLICT, exc.message) from None
    return JsonResponse({"Flag": 1, "Msg": f"86{binding.x_number}"})


def recording(exchange: Exchange) -> HttpResponse:
    body = _body(exchange)
    account = authenticate(exchange, body)
    call_id = body.get("CallIdentifier")
    if not isinstance(call_id, str) or not call_id:
        raise _reject("102001", protocol.INVALID, "CallIdentifier is required")
    call = account.calls.filter(call_id=call_id).first()
    if call is None or not call.recorded:
        raise _reject("103002", protocol.NOT_FOUND, call_id)
    return JsonResponse({"Flag": 1, "Msg": services.recording_url(call)})


def _t(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime(vendor.END_FORMAT) if moment else ""


def callbacks(call: SandboxCall, *, recording_url: str) -> list[Outgoing]:
    account = call.account
    payload = {
        "CallIdentifier": call.call_id,
        "Caller": call.caller,
        "Callee": call.callee,
        "VirtualNum": f"86{call.x_number}",
        "StartTime": _t(call.answer_at or call.begin_at),
        "EndTime": _t(call.release_at),
        "Duration": call.duration,
        "Result": call.outcome,
        "APPID": account.app_id,
    }
    return [
        Outgoing(
            "cdr",
            "cdr",
            account.callback_urls.get("cdr", ""),
            json.dumps(payload).encode(),
            "application/json;charset=utf-8",
        )
    ]


# ---------------------------------------------------------------------- plug-in


ROUTES = (
    Route("20171220/bind/callEvent/v1", ("POST",), bind),  # §二
    Route("20171220/bind/callEvent/voice/v1", ("POST",), recording),  # §三
)
DEMO_ACCOUNT = {
    "name": "Demo CYJ",
    "account_id": "demoCyjAccountToken000000000000001",
    "secret": "demoCyjAccountToken000000000000001",
    "app_id": "774e5e14a0874725bfb90351f1e84f67",
    "extra": {},
    "numbers": [("+8617118230001", "021"), ("+8617118230002", "021")],
}


def new_call_id(now: datetime) -> str:
    return f"{secrets.randbelow(10**32):032d}"  # the document's CallIdentifier: 32 digits


def records_by_default(call: SandboxCall) -> bool:
    return True  # bindings carry no record flag; every answered call records
