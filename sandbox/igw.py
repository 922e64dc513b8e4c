"""The igw (privacy numbers, AXB + XA) simulator, under /sandbox/igw.

Document: vendor-docs/igw-privacy-axb-xa.txt: §1 error codes, §2.1 Keytime,
§3.1 account status, §4.1-4.4 AXB/XA bind and release, §5.1 CDR callback,
§5.2 result codes, §5.3 call-start callback.

Endpoints (JSON answers {"error": int, "reason": str, …}):
  GET    /api/v1/account/status                         §3.1
  PUT    /igw/service/uc/interline/{x}                  §4.1 AXB (form body) -> subid
  DELETE /igw/service/uc/interline?appid=&subid=        §4.2
  PUT    /igw/service/uc/interline/{x}/transfer         §4.3 XA (form body)
  DELETE /igw/service/uc/interline/{x}/transfer?appid=  §4.4

Authentication (§2.1): `Authorization: Keytime {devid},{ts_ms},{sig}` parsed
strictly here (scheme "Keytime", one space, three comma-separated fields, a
13-digit millisecond timestamp, 16 lower-case hex), the expected value from
vendors.igw.keytime.  Every authentication failure answers HTTP 401 (§1 "401
认证失败"): 1100 for an unknown devid, 1101 for anything else (missing or
malformed header, wrong signature, timestamp more than 3 minutes either side
of now).

CHOICES where the document leaves room:
- Parameters (§4.1/§4.3 tables) are validated and refused with 1002
  (访问参数错误), the reason naming the field: required fields, numbers up to
  24 bytes of digits (an optional leading "+"), ttl an integer (> 0 for AXB,
  >= 0 for XA), record 0/1, display "0,0"/"0,1"/"1,0"/"1,1" (AXB) or 0/1 (XA),
  A != B.  appid other than the account's: 1103 (账号权限未开通).
- reqid is an idempotency key: a repeated reqid answers the first request's
  result (same subid) and creates nothing, even after that binding ended.
- A or B already in an active AXB on the same X -> 1302 (资源配置冲突: the
  X's configuration would be ambiguous); a second XA on an X -> 1302 too.
  The per-X cap (SandboxAccount.max_bindings_per_x, default 100) -> 1301
  (资源不足).  An X the account does not own (when it lists numbers) -> 1300.
- Release of an unknown subid / an X without transfer -> 1300 (资源不存在);
  releasing what is already released answers 0 (DELETE is idempotent, so a
  client retrying after a timeout is not told it failed).
- Suspended/closed account -> 1102 (HTTP 200).
- Callbacks, form-encoded as §5.1/§5.3 say: "call-start" (devid, appid,
  taskid, subid, caller, rcaller, callee, callTime, userData) then "cdr"
  (… result, beginTime, ringTime, answerTime, releaseTime, duration,
  recording, userData, releasedir).  result per `RESULTS` (checked against
  vendors.igw.RESULT_OUTCOMES by the tests); XA calls carry subid "".
  igw signs no callback: devid/appid in the body are what the console checks.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.http import HttpResponse, JsonResponse

from sandbox import protocol, services
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxBinding, SandboxCall
from sandbox.protocol import Exchange, Rejection, Route
from vendors import igw as vendor
from vendors.types import CallOutcome

WINDOW_MS = 3 * 60 * 1000
_KEYTIME = re.compile(r"Keytime ([^,\s]+),(\d{13}),([0-9a-f]{16})")
_NUMBER = re.compile(r"\+?[0-9]{1,23}")

REASONS: dict[int, str] = {
    0: "",
    1002: "访问参数错误",
    1100: "账号不存在",
    1101: "账号认证失败",
    1102: "账号已停用",
    1103: "账号权限未开通",
    1300: "资源不存在",
    1301: "资源不足",
    1302: "资源配置冲突",
}

# CallOutcome -> §5.2 result (one representative code each).
RESULTS: dict[str, str] = {
    CallOutcome.ANSWERED: "answered",
    CallOutcome.BUSY: "17",
    CallOutcome.NO_ANSWER: "19",
    CallOutcome.REJECTED: "21",
    CallOutcome.UNREACHABLE: "27",
    CallOutcome.INVALID_NUMBER: "1",
    CallOutcome.BLOCKED: "57",
    CallOutcome.FAILED: "127",
}
OUTCOMES = tuple(str(k) for k in RESULTS)
_RELEASEDIR = {"caller": "1", "callee": "2", "platform": "0"}


def _reject(code: int, verdict: str, detail: str = "", *, http_status: int = 200) -> Rejection:
    text = REASONS.get(code, "") + (f": {detail}" if detail else "")
    return Rejection(verdict, str(code), text, http_status=http_status)


def ok(**fields: Any) -> JsonResponse:
    return JsonResponse({"error": 0, "reason": "", **fields})


def render_rejection(exchange: Exchange, rejection: Rejection) -> HttpResponse:
    return JsonResponse(
        {"error": int(rejection.code), "reason": rejection.message}, status=rejection.http_status
    )


# ---------------------------------------------------------------------- auth


def authenticate(exchange: Exchange) -> SandboxAccount:
    value = exchange.request.headers.get("Authorization", "")
    match = _KEYTIME.fullmatch(value.strip())
    if match is None:
        raise _reject(
            1101, protocol.AUTH_FAILED, "Authorization is not Keytime devid,ts,sig", http_status=401
        )
    devid, ts_text, sig = match.groups()
    ts_ms = int(ts_text)
    if abs(time.time_ns() // 1_000_000 - ts_ms) > WINDOW_MS:
        raise _reject(
            1101, protocol.STALE, "timestamp outside the 3-minute window", http_status=401
        )
    account = SandboxAccount.objects.filter(vendor="igw", account_id=devid).first()
    if account is None:
        raise _reject(1100, protocol.UNKNOWN_ACCOUNT, devid, http_status=401)
    exchange.account = account
    expected = vendor.keytime(devid, account.secret, ts_ms).rsplit(",", 1)[1]
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise _reject(1101, protocol.AUTH_FAILED, "signature mismatch", http_status=401)
    if not account.usable:
        raise _reject(1102, protocol.REFUSED)
    protocol.api_chaos(account)
    return account


# ---------------------------------------------------------------------- params


def form(exchange: Exchange) -> dict[str, str]:
    """PUT bodies are form-encoded (§4.1); Django only parses POST, so parse here."""
    try:
        text = exchange.request.body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise _reject(
            1002, protocol.INVALID, "body is not application/x-www-form-urlencoded"
        ) from None
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _required(fields: dict[str, str], *names: str) -> None:
    for name in names:
        if not fields.get(name):
            raise _reject(1002, protocol.INVALID, f"{name} is required")


def _number(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not _NUMBER.fullmatch(value) or len(value.encode()) > 24:
        raise _reject(1002, protocol.INVALID, f"{name} must be a phone number of at most 24 bytes")
    return value


def _int(fields: dict[str, str], name: str, *, default: int, allowed: range) -> int:
    value = fields.get(name, "")
    if value == "":
        return default
    # isascii(): "²".isdigit() is true but int("²") fails; the length bound keeps int() cheap.
    if not (value.isdigit() and value.isascii() and len(value) <= 18) or int(value) not in allowed:
        raise _reject(
            1002,
            protocol.INVALID,
            f"{name} must be an integer in {allowed.start}..{allowed.stop - 1}",
        )
    return int(value)


def _check_app(account: SandboxAccount, appid: str) -> None:
    if not appid:
        raise _reject(1002, protocol.INVALID, "appid is required")
    if account.app_id and appid != account.app_id:
        raise _reject(1103, protocol.REFUSED, f"appid {appid} is not this account's")


def _check_x(account: SandboxAccount, x_number: str) -> str:
    if not _NUMBER.fullmatch(x_number):
        raise _reject(1002, protocol.INVALID, "X number in the URL is not a phone number")
    if account.numbers and services.national(x_number) not in account.numbers:
        raise _reject(1300, protocol.NOT_FOUND, f"X {x_number} is not this account's number")
    return x_number


def _state_error(exc: services.SandboxStateError) -> Rejection:
    code = {"conflict": 1302, "capacity": 1301}.get(exc.reason, 1300)
    verdict = protocol.CONFLICT if code in (1301, 1302) else protocol.NOT_FOUND
    return _reject(code, verdict, exc.message)


# ---------------------------------------------------------------------- handlers


def account_status(exchange: Exchange) -> HttpResponse:
    account = authenticate(exchange)
    return ok(
        state=account.state,
        role="developer",
        balance=float(account.balance),
        overdraft=float(account.overdraft),
        createTime=int(account.created_at.timestamp() * 1000),
        updateTime=int(account.updated_at.timestamp() * 1000),
    )


def bind_axb(exchange: Exchange, x_number: str) -> HttpResponse:
    account = authenticate(exchange)
    fields = form(exchange)
    _check_app(account, fields.get("appid", ""))
    _required(fields, "anum", "bnum", "reqid", "ttl")
    x_number = _check_x(account, x_number)
    a_number, b_number = _number(fields, "anum"), _number(fields, "bnum")
    if services.national(a_number) == services.national(b_number):
        raise _reject(1002, protocol.INVALID, "anum and bnum must differ")
    ttl = _int(fields, "ttl", default=0, allowed=range(1, 10**9))
    record = _int(fields, "record", default=0, allowed=range(2))
    display = fields.get("display") or "0,0"
    if display not in ("0,0", "0,1", "1,0", "1,1"):
        raise _reject(1002, protocol.INVALID, "display must be 0,0 / 0,1 / 1,0 / 1,1")
    try:
        binding, _ = services.binding_create(
            account=account,
            kind=SandboxBinding.Kind.AXB,
            x_number=x_number,
            a_number=a_number,
            b_number=b_number,
            reqid=fields["reqid"],
            ttl=ttl,
            record=bool(record),
            user_data=fields.get("userData", ""),
            params=_extras(fields, "display", "anucode", "ansanu"),
            sandbox_base_url=exchange.sandbox_base_url,
        )
    except services.SandboxStateError as exc:
        raise _state_error(exc) from None
    return ok(subid=binding.subid)


def release_axb(exchange: Exchange) -> HttpResponse:
    account = authenticate(exchange)
    params = exchange.request.GET
    _check_app(account, params.get("appid", ""))
    subid = params.get("subid", "")
    if not subid:
        raise _reject(1002, protocol.INVALID, "subid is required")
    binding = account.bindings.filter(kind=SandboxBinding.Kind.AXB, subid=subid).first()
    if binding is None:
        raise _reject(1300, protocol.NOT_FOUND, f"subid {subid}")
    services.binding_release(binding=binding)
    return ok()


def transfer(exchange: Exchange, x_number: str) -> HttpResponse:
    """PUT opens an XA transfer (§4.3), DELETE releases it (§4.4)."""
    account = authenticate(exchange)
    if exchange.request.method == "DELETE":
        _check_app(account, exchange.request.GET.get("appid", ""))
        x = services.national(x_number)
        bindings = account.bindings.filter(kind=SandboxBinding.Kind.XA, x_number=x)
        if not bindings.exists():
            raise _reject(1300, protocol.NOT_FOUND, f"X {x_number} has no transfer")
        for binding in bindings.filter(state=SandboxBinding.State.ACTIVE):
            services.binding_release(binding=binding)
        return ok()
    fields = form(exchange)
    _check_app(account, fields.get("appid", ""))
    _required(fields, "anum", "reqid")
    x_number = _check_x(account, x_number)
    a_number = _number(fields, "anum")
    ttl = _int(fields, "ttl", default=0, allowed=range(0, 10**9))
    record = _int(fields, "record", default=0, allowed=range(2))
    _int(fields, "display", default=0, allowed=range(2))
    try:
        services.binding_create(
            account=account,
            kind=SandboxBinding.Kind.XA,
            x_number=x_number,
            a_number=a_number,
            reqid=fields["reqid"],
            ttl=ttl,
            record=bool(record),
            user_data=fields.get("userData", ""),
            params=_extras(fields, "display", "anucode"),
            sandbox_base_url=exchange.sandbox_base_url,
        )
    except services.SandboxStateError as exc:
        raise _state_error(exc) from None
    return ok()


def _extras(fields: dict[str, str], *names: str) -> dict[str, str]:
    return {name: fields[name] for name in names if fields.get(name)}


# ---------------------------------------------------------------------- callbacks


def callbacks(call: SandboxCall, *, recording_url: str) -> list[Outgoing]:
    """§5.3 call-start, then the §5.1 CDR; both form-encoded."""
    account = call.account
    subid = call.binding.subid if call.binding else ""
    common = {
        "devid": account.account_id,
        "appid": account.app_id,
        "taskid": call.call_id,
        "subid": subid,
        "caller": call.caller,
        "rcaller": call.x_number,
        "callee": call.callee,
    }
    start = {**common, "callTime": str(_epoch(call.begin_at)), "userData": call.user_data}
    answered = call.outcome == CallOutcome.ANSWERED
    cdr = {
        **common,
        "result": RESULTS[call.outcome],
        "beginTime": str(_epoch(call.begin_at)),
        "ringTime": str(_epoch(call.ring_at)),
        "answerTime": str(_epoch(call.answer_at)),
        "releaseTime": str(_epoch(call.release_at)),
        "duration": str(call.duration if answered else 0),
        "recording": recording_url,
        "userData": call.user_data,
        "releasedir": _RELEASEDIR.get(call.release_side, "0"),
    }
    ctype = "application/x-www-form-urlencoded"
    urls = account.callback_urls
    return [
        Outgoing(
            "call-start", "call-start", urls.get("call-start", ""), urlencode(start).encode(), ctype
        ),
        Outgoing("cdr", "cdr", urls.get("cdr", ""), urlencode(cdr).encode(), ctype),
    ]


def _epoch(moment: Any) -> int:
    return int(moment.timestamp()) if moment else 0


# ---------------------------------------------------------------------- plug-in


ROUTES = (
    Route("api/v1/account/status", ("GET",), account_status),  # §3.1
    Route("igw/service/uc/interline", ("DELETE",), release_axb),  # §4.2
    Route("igw/service/uc/interline/<str:x_number>", ("PUT",), bind_axb),  # §4.1
    Route("igw/service/uc/interline/<str:x_number>/transfer", ("PUT", "DELETE"), transfer),
)
DEMO_ACCOUNT = {
    "name": "Demo IGW",
    "account_id": "10000000",
    "secret": "demo-igw-auth-key-0001",
    "app_id": "demo-igw-app",
    "extra": {"max_bindings_per_x": 200},
    "numbers": [
        ("+8617000000001", "010"),
        ("+8617000000002", "010"),
        ("+8617000000003", "021"),
    ],
}


def new_call_id(now: Any) -> str:
    return secrets.token_hex(16)  # taskid


def records_by_default(call: SandboxCall) -> bool:
    return bool(call.binding and call.binding.record)  # the binding's record=1
