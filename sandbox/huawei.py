"""The huawei voice-verification-code simulator, under /sandbox/huawei.

Document: vendor-docs/huawei-voice-verify-aksk.txt: 表2 request headers
(Authorization, X-AKSK), 表4 body, 表5 response, 表6 result codes, and the
status push section (callout / alerting / answer / disconnect).

Endpoint: POST /rest/httpsessions/callVerify/v1.0 ->
{"resultcode": "0", "resultdesc": "Success", "sessionId": "…"} (+ idlePort when
returnIdlePort is "true").

Header checks, in this order, each with its 表6 code under its 表6 status:
  400 1023006 no Authorization              400 1023033 no X-AKSK
  400 1023007 realm missing                 400 1023038 X-AKSK not "UsernameToken …"
  400 1023008 profile missing               400 1023034 Username missing
  400 1023012 type missing                  400 1023037 PasswordDigest missing
  400 1023009 realm != "SDP"                400 1023035 Nonce missing
  400 1023010 profile != "UsernameToken"    400 1023036 Created missing
  400 1023011 type != "Appkey"
  403 1010003 unknown app_key (Username)    401 1010013 Created not UTC
                                                 %Y-%m-%dT%H:%M:%SZ or more than
                                                 `CREATED_WINDOW` (300 s) from now
  401 1010010 PasswordDigest != vendors.huawei.password_digest(secret, Nonce, Created)
  403 1010008 account suspended/closed
Both headers are parsed strictly here (quoted key="value" pairs separated by
commas, spaces after commas allowed); vendors.huawei.password_digest is the one
definition of the digest.

Body (表4) problems answer HTTP 500 1020001 (参数错误: that is the table's
status for it): not JSON, a required field missing, displayNbr/calleeNbr not
4-31 characters of "+" and digits, languageType not 2, preTone not 1-128,
verifyCode not 2-8 digits, times not 0-9, statusUrl/feeUrl over 128
characters (the Base64 text, vendors/huawei.py's reading) or not Base64 of a
URL of the documented characters, returnIdlePort not "true"/"false", userData
over 256, with braces or non-ASCII.

CHOICES: Nonce must be 1-128 letters and digits (表2).  The Created window is
the sandbox's pick (the document says "ask the admin").  Pushes go to the
statusUrl/feeUrl of the request when it had them, else to the account's
"status"/"cdr" callback URLs; they are signed as the push section says, X-AKSK
(vendors.huawei.push_headers) with PasswordDigest = push_digest(secret, url, nonce, created)
over the exact URL posted to.  The fee push is the format vendors/huawei.py
reads: {"eventType": "fee", "feeLst": [{…}]}, times UTC "yyyy-MM-dd HH:mm:ss";
unanswered calls carry a SIP status per `SIP_CODES`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from sandbox import protocol, services
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxCall
from sandbox.protocol import Exchange, Rejection, Route
from vendors import huawei as vendor
from vendors.types import CallOutcome

CREATED_WINDOW = 300
PUSH_TIME = "%Y-%m-%d %H:%M:%S"
_PAIR = re.compile(r'\s*(\w+)="([^"]*)"\s*')
_NONCE = re.compile(r"[0-9A-Za-z]{1,128}")
_NUMBER = re.compile(r"\+?[0-9]{3,30}")

MESSAGES: dict[str, str] = {
    "1023006": "Authorization not contained in the HTTP header.",
    "1023007": "realm not contained in Authorization.",
    "1023008": "profile not contained in Authorization.",
    "1023009": "The value of realm in Authorization must be SDP.",
    "1023010": "The value of profile in Authorization must be UsernameToken.",
    "1023011": "The value of type in Authorization must be app_key.",
    "1023012": "type not contained in Authorization.",
    "1023033": "HTTP header not found X-AKSK field.",
    "1023034": "UserName not contained in X-AKSK.",
    "1023035": "Nonce not contained in X-AKSK.",
    "1023036": "Created not contained in X-AKSK.",
    "1023037": "PasswordDigest not contained in X-AKSK.",
    "1023038": "UsernameToken not contained in X-AKSK.",
    "1010003": "Invalid app_key.",
    "1010008": "The status of the app_key is unavailable.",
    "1010010": "Invalid digest.",
    "1010013": "Time out limit.",
    "1020001": "Parameter error.",
}
_STATUS = {"1010003": 403, "1010008": 403, "1010010": 401, "1010013": 401, "1020001": 500}

# Outcome -> SIP final status of an unanswered call (vendors.huawei.SIP_OUTCOMES agrees).
SIP_CODES: dict[str, str] = {
    CallOutcome.BUSY: "486",
    CallOutcome.NO_ANSWER: "480",
    CallOutcome.REJECTED: "603",
    CallOutcome.INVALID_NUMBER: "404",
    CallOutcome.BLOCKED: "403",
    CallOutcome.UNREACHABLE: "503",
    CallOutcome.FAILED: "500",
}
OUTCOMES = (str(CallOutcome.ANSWERED), *(str(k) for k in SIP_CODES))


def _reject(code: str, verdict: str, detail: str = "") -> Rejection:
    text = MESSAGES[code] + (f" ({detail})" if detail else "")
    return Rejection(verdict, code, text, http_status=_STATUS.get(code, 400))


def render_rejection(exchange: Exchange, rejection: Rejection) -> HttpResponse:
    body = {"resultcode": rejection.code, "resultdesc": rejection.message}
    return JsonResponse(body, status=rejection.http_status)


def _pairs(text: str) -> dict[str, str] | None:
    """key="value" pairs separated by commas; None when the text is not that."""
    out: dict[str, str] = {}
    for part in text.split(","):
        match = _PAIR.fullmatch(part)
        if match is None:
            return None
        out[match.group(1)] = match.group(2)
    return out


# ---------------------------------------------------------------------- auth


def authenticate(exchange: Exchange) -> SandboxAccount:
    headers = exchange.request.headers
    _check_authorization(headers.get("Authorization", "").strip())
    parts = _x_aksk(headers.get("X-AKSK", "").strip())
    account = SandboxAccount.objects.filter(vendor="huawei", account_id=parts["Username"]).first()
    if account is None:
        raise _reject("1010003", protocol.UNKNOWN_ACCOUNT)
    exchange.account = account
    _check_created(parts["Created"])
    expected = vendor.password_digest(account.secret, parts["Nonce"], parts["Created"])
    if not hmac.compare_digest(expected.encode(), parts["PasswordDigest"].encode()):
        raise _reject("1010010", protocol.AUTH_FAILED)
    if not account.usable:
        raise _reject("1010008", protocol.REFUSED)
    protocol.api_chaos(account)
    return account


def _check_authorization(auth: str) -> None:
    """The fixed `AKSK realm="SDP",profile="UsernameToken",type="Appkey"` header."""
    if not auth:
        raise _reject("1023006", protocol.AUTH_FAILED)
    scheme, _, rest = auth.partition(" ")
    attrs = _pairs(rest) if scheme == "AKSK" else None
    if attrs is None:
        raise _reject("1023006", protocol.AUTH_FAILED, 'Authorization is not AKSK k="v",…')
    for key, code in (("realm", "1023007"), ("profile", "1023008"), ("type", "1023012")):
        if key not in attrs:
            raise _reject(code, protocol.AUTH_FAILED)
    for key, want, code in (
        ("realm", "SDP", "1023009"),
        ("profile", "UsernameToken", "1023010"),
        ("type", "Appkey", "1023011"),
    ):
        if attrs[key] != want:
            raise _reject(code, protocol.AUTH_FAILED)


def _x_aksk(x_aksk: str) -> dict[str, str]:
    """The X-AKSK UsernameToken's fields, each present (表6 codes otherwise)."""
    if not x_aksk:
        raise _reject("1023033", protocol.AUTH_FAILED)
    token, _, rest = x_aksk.partition(" ")
    parts = _pairs(rest) if token == "UsernameToken" else None
    if parts is None:
        raise _reject("1023038", protocol.AUTH_FAILED)
    for key, code in (
        ("Username", "1023034"),
        ("PasswordDigest", "1023037"),
        ("Nonce", "1023035"),
        ("Created", "1023036"),
    ):
        if not parts.get(key):
            raise _reject(code, protocol.AUTH_FAILED)
    if not _NONCE.fullmatch(parts["Nonce"]):
        raise _reject("1023035", protocol.AUTH_FAILED, "Nonce must be 1-128 letters/digits")
    return parts


def _check_created(text: str) -> None:
    try:
        created = datetime.strptime(text, vendor.CREATED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _reject(
            "1010013", protocol.STALE, "Created is not UTC yyyy-MM-ddTHH:mm:ssZ"
        ) from None
    if abs((timezone.now() - created).total_seconds()) > CREATED_WINDOW:
        raise _reject("1010013", protocol.STALE, f"Created {text}")


# ---------------------------------------------------------------------- body


def _bad(detail: str) -> Rejection:
    return _reject("1020001", protocol.INVALID, detail)


def _text(body: dict[str, Any], key: str, lo: int, hi: int, *, required: bool) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise _bad(f"{key} is required")
        return ""
    if not isinstance(value, str) or not lo <= len(value) <= hi:
        raise _bad(f"{key} must be a string of {lo}-{hi} characters")
    return value


def _url(body: dict[str, Any], key: str) -> str:
    encoded = _text(body, key, 1, vendor.MAX_PUSH_URL, required=False)
    if not encoded:
        return ""
    try:
        url = base64.b64decode(encoded, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise _bad(f"{key} must be Base64 of a URL") from None
    if not vendor.URL_CHARS.fullmatch(url) or not url.startswith(("http://", "https://")):
        raise _bad(f"{key} must decode to an http(s) URL of the documented characters")
    return url


def validate(body: Any) -> dict[str, Any]:
    """表4, field by field; returns the parameters the call keeps."""
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    display = _text(body, "displayNbr", 4, 31, required=True)
    callee = _text(body, "calleeNbr", 4, 31, required=True)
    for key, value in (("displayNbr", display), ("calleeNbr", callee)):
        if not _NUMBER.fullmatch(value):
            raise _bad(f"{key} must be + and digits")
    language = body.get("languageType")
    if language != 2 or isinstance(language, bool):
        raise _bad("languageType must be 2")
    _text(body, "preTone", 1, 128, required=True)
    code = _text(body, "verifyCode", 2, 8, required=True)
    if not (code.isdigit() and code.isascii()):
        raise _bad("verifyCode must be 2-8 digits")
    _text(body, "posTone", 1, 128, required=False)
    times = body.get("times", 3)
    if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= 9:
        raise _bad("times must be an integer 0-9")
    idle = body.get("returnIdlePort", "false")
    if idle not in ("true", "false"):
        raise _bad('returnIdlePort must be "true" or "false"')
    user_data = _text(body, "userData", 1, 256, required=False)
    if user_data and (not user_data.isascii() or "{" in user_data or "}" in user_data):
        raise _bad("userData must be ASCII without braces")
    return {
        "displayNbr": display,
        "calleeNbr": callee,
        "verifyCode": code,
        "times": times,
        "statusUrl": _url(body, "statusUrl"),
        "feeUrl": _url(body, "feeUrl"),
        "returnIdlePort": idle,
        "userData": user_data,
    }


# ---------------------------------------------------------------------- handler


def call_verify(exchange: Exchange) -> HttpResponse:
    account = authenticate(exchange)
    ctype = exchange.request.headers.get("Content-Type", "").lower()
    if "application/json" not in ctype:
        raise _bad("Content-Type must be application/json;charset=UTF-8")
    try:
        body = json.loads(exchange.request.body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise _bad("body is not JSON") from None
    params = validate(body)
    call = services.call_request(
        account=account,
        kind=SandboxCall.Kind.VOICE_CODE,
        caller=params["displayNbr"],
        callee=params["calleeNbr"],
        user_data=params["userData"],
        params=params,
        sandbox_base_url=exchange.sandbox_base_url,
    )
    answer: dict[str, Any] = {"resultcode": "0", "resultdesc": "Success", "sessionId": call.call_id}
    if params["returnIdlePort"] == "true":
        answer["idlePort"] = 100 + secrets.randbelow(100)
    return JsonResponse(answer)


# ---------------------------------------------------------------------- pushes


def _plus(number: str) -> str:
    # Pushes use the global format (+86…), per the push section.
    return number if number.startswith("+") or not number else f"+86{number}"


def _t(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime(PUSH_TIME) if moment else ""


def callbacks(call: SandboxCall, *, recording_url: str) -> list[Outgoing]:
    """Status pushes (callout, alerting?, answer?, disconnect), then the fee push."""
    account = call.account
    status_url = call.params.get("statusUrl") or account.callback_urls.get("status", "")
    fee_url = call.params.get("feeUrl") or account.callback_urls.get("cdr", "")
    answered = call.outcome == CallOutcome.ANSWERED
    base = {"sessionId": call.call_id, "caller": _plus(call.caller), "called": _plus(call.callee)}
    if call.user_data:
        base["userData"] = call.user_data
    events: list[tuple[str, datetime | None, dict[str, Any]]] = [("callout", call.begin_at, {})]
    if call.ring_at:
        events.append(("alerting", call.ring_at, {}))
    if answered:
        events.append(("answer", call.answer_at, {}))
    sip = "" if answered else SIP_CODES[call.outcome]
    reason = {"stateCode": 0, "stateDesc": "The user releases the call."}
    if not answered:
        reason = {"stateCode": int(sip), "stateDesc": f"Call failed with SIP status {sip}."}
    events.append(("disconnect", call.release_at, reason))

    def signer(url: str) -> dict[str, str]:
        return vendor.push_headers(account.account_id, account.secret, url)

    ctype = "application/json;charset=UTF-8"
    out = [
        Outgoing(
            "status",
            name,
            status_url,
            _json({"eventType": name, "statusInfo": {**base, "timestamp": _t(at), **extra}}),
            ctype,
            signer,
        )
        for name, at, extra in events
    ]
    fee = {
        "direction": 0,
        "spId": account.account_id,
        "appKey": account.account_id,
        "sessionId": call.call_id,
        "callerNum": _plus(call.caller),
        "calleeNum": _plus(call.callee),
        "fwdDisplayNum": _plus(call.caller),
        "fwdStartTime": _t(call.begin_at),
        "fwdAlertingTime": _t(call.ring_at),
        "fwdAnswerTime": _t(call.answer_at),
        "callEndTime": _t(call.release_at),
        "fwdUnaswRsn": 0 if answered else int(sip),
        "ulFailReason": 0 if answered else int(sip),
        "sipStatusCode": 0 if answered else int(sip),
        "recordFlag": 1 if recording_url else 0,
        "recordFileDownloadUrl": recording_url,
        "serviceType": "003",  # voice verification code
        "hostName": "callenabler.sandbox.invalid",
    }
    if call.user_data:
        fee["userData"] = call.user_data
    out.append(
        Outgoing("cdr", "fee", fee_url, _json({"eventType": "fee", "feeLst": [fee]}), ctype, signer)
    )
    return out


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------- plug-in


ROUTES = (Route("rest/httpsessions/callVerify/v1.0", ("POST",), call_verify),)  # 表2/表4
DEMO_ACCOUNT = {
    "name": "Demo Huawei",
    "account_id": "ZRBRz4bAXoFgEH7o4Ew308eXc1RA",
    "secret": "demo-huawei-app-secret-0001",
    "app_id": "",
    "extra": {"push_signature": "require", "display_number": "+8675528000088"},
    "numbers": [],
}


def new_call_id(now: datetime) -> str:
    """The document's example shape."""
    return (
        f"1200_{secrets.randbelow(100000)}_0_{now.strftime('%Y%m%d%H%M%S')}"
        f"{secrets.randbelow(1000):03d}@callenabler.sandbox.invalid"
    )


def records_by_default(call: SandboxCall) -> bool:
    return False  # a voice code is not recorded
