"""The ccp (cloopen-style REST) simulator, under /sandbox/ccp/2013-12-26.

Documents: vendor-docs/ccp-rest-overview.txt (§1 Base URL, §2 统一请求包头: the
Accounts/SubAccounts levels, sig, Authorization, 24-hour timestamp; §3 XML or
JSON by Content-Type/Accept) and ccp-rest-php-guide.txt (§1.3 安全机制 both
directions, §2.5.1 创建子账户, §2.5.2 发送短信, §2.5.3 双向回呼).

Endpoints (all answer statusCode "000000" on success, or "0" when the account's
ccp_success_code says so; HTTP 200 always, like the platform: errors are in the
body):
  GET  /Accounts/{sid}/AccountInfo          Account{friendlyName,type,status,balance,…}
  POST /Accounts/{sid}/SubAccounts          SubAccount{subAccountSid,subToken,voipAccount,voipPwd,
                                            type,…}; the sid under accountSid instead when
                                            the account's ccp_sub_account_sid_key says so
  POST /Accounts/{sid}/GetSubAccounts       totalCount + SubAccount list (startNo/offset)
  POST /Accounts/{sid}/QuerySubAccountByName SubAccount of that friendlyName, or 111130
                                            (GetSubAccounts and this one: the official SDK)
  POST /Accounts/{sid}/SMS/Messages         SMSMessage{smsMessageSid,dateCreated}
  POST /Accounts/{sid}/SMS/TemplateSMS      templateSMS (JSON) / TemplateSMS (XML)
  POST /SubAccounts/{subsid}/Calls/Callback CallBack{callSid,dateCreated}; signed with
                                            the sub-account's own sid and token

Request bodies are parsed per Content-Type (XML when it says xml, else JSON);
the answer's format follows Accept (XML when it says xml, else JSON).  XML
answers have the root <Response>; a list is repeated elements (<SubAccount>…
</SubAccount><SubAccount>…).  sig and Authorization are checked with
vendors.ccp.sign, the one definition of the algorithm.

CHOICES.  The platform's error table (《平台错误码》) is not in our documents;
these are the cloopen-style codes the sandbox answers (`CODES`):
  111100  Authorization header missing or empty
  111101  Authorization is not Base64
  111102  Authorization does not decode to "accountSid:timestamp"
  111104  timestamp is not yyyyMMddHHmmss
  111105  timestamp outside the 24-hour window (overview §2: 有效时间为24小时),
          either side of now, Beijing time
  111108  sig query parameter missing
  111109  sig does not match upper(MD5(sid + token + timestamp))
  111112  the Authorization's account id is not the URL's
  111113  main account not found (unknown accountSid)
  111114  account suspended or closed
  111130  sub-account not found (unknown subAccountSid)
  111200  request body unreadable, or a required parameter missing/invalid
  160031  SMS: a required parameter missing or invalid (the SMS family's own code)
  112312  SMS from an application that is disabled (0) or deleted (-1): our code
  112305  SMS (112310 template SMS) to a number not registered, from an
          application unpublished/offline (1), in review (3) or rejected (4)
          (guide §2.5.2 说明; the account's ccp_app_state and
          ccp_registered_numbers; codes as vendors/ccp.py's docstring says)
Checks run in that order of the header, then the URL, then the account.
Account.status in AccountInfo is the SandboxAccount.state number (0 trial,
1 active, 2 suspended, 3 closed), which vendors/ccp.py reads the same way.

CallBack's optional fields (customerSerNum, fromSerNum, promptTone, …) are checked
with vendors.ccp.callback_field_problem (111200 naming the field); the call keeps
them in params.  hangupCdrUrl receives the Hangup; needRecord "0" means no
recording.

Call events (same URL and kind as the Hangup, before it): CallAuth when the
call starts, CallEstablish when it is answered, <Request><action/><callSid/>
<caller/><called/><userData/><time/></Request>, time Beijing.

Hangup callback (the "cdr" webhook kind): the XML vendors/ccp.py parses,
<Request><action>Hangup</action><callSid/><caller/><called/><starttime/>
<endtime/><duration/><byetype/><recordurl/><userData/></Request>, times
"yyyy-MM-dd HH:mm:ss" Beijing, byetype from vendors.ccp.BYETYPE, posted with
Authorization = vendors.ccp.platform_authorization(MAC, main AuthToken).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone

from sandbox import protocol, services
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxCall, SandboxSubAccount
from sandbox.protocol import Exchange, Rejection, Route
from vendors import ccp as vendor
from vendors.types import CallOutcome

SHANGHAI = ZoneInfo("Asia/Shanghai")
VERSION = "2013-12-26"
WINDOW = timedelta(hours=24)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

CODES: dict[str, str] = {
    "111100": "【账号】请求包头Authorization参数为空",
    "111101": "【账号】请求包头Authorization参数Base64解码失败",
    "111102": "【账号】请求包头Authorization参数解码后格式有误",
    "111104": "【账号】请求包头Authorization参数解码后时间戳格式有误",
    "111105": "【账号】请求包头Authorization参数解码后时间戳过期",
    "111108": "【账号】请求地址Sig参数为空",
    "111109": "【账号】请求地址Sig校验失败",
    "111112": "【账号】请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致",
    "111113": "【账号】主账户不存在",
    "111114": "【账号】主账户状态异常",
    "111130": "【账号】子账户不存在",
    "111200": "【参数】请求包体格式有误或必选参数为空",
    "160031": "【短信】参数解析失败",
    "112305": "应用未上线，短信接收号码外呼受限",
    "112310": "应用未上线，模板短信接收号码外呼受限",
    "112312": "应用已禁用或已删除，不能发送短信",
}
# Application states (guide §2.5.2 说明): no SMS at all; only to registered numbers.
APP_NO_SMS = (-1, 0)
APP_REGISTERED_ONLY = (1, 3, 4)

# Outcome -> byetype: the first byetype vendors.ccp.BYETYPE maps to that outcome.
BYETYPES: dict[str, str] = {}
for _code, (_outcome, _side) in vendor.BYETYPE.items():
    BYETYPES.setdefault(str(_outcome), _code)
# Answered calls: who hung up picks between "1" (caller) and "2" (callee).
_ANSWERED_BY_SIDE = {"caller": "1", "callee": "2", "platform": "3"}
OUTCOMES = tuple(BYETYPES)


def _reject(code: str, verdict: str, detail: str = "") -> Rejection:
    text = CODES[code] + (f": {detail}" if detail else "")
    return Rejection(verdict, code, text)


# ---------------------------------------------------------------------- formats


def wants_xml(exchange: Exchange) -> bool:
    return "xml" in exchange.request.headers.get("Accept", "").lower()


def render(
    exchange: Exchange, payload: dict[str, Any], *, xml_names: dict | None = None
) -> HttpResponse:
    """Answer in the format Accept asked for.  `xml_names` renames top-level keys
    in XML only (templateSMS -> TemplateSMS)."""
    if wants_xml(exchange):
        renamed = {(xml_names or {}).get(k, k): v for k, v in payload.items()}
        return HttpResponse(to_xml(renamed), content_type="application/xml;charset=utf-8")
    return HttpResponse(
        json.dumps(payload, ensure_ascii=False), content_type="application/json;charset=utf-8"
    )


def render_rejection(exchange: Exchange, rejection: Rejection) -> HttpResponse:
    response = render(exchange, {"statusCode": rejection.code, "statusMsg": rejection.message})
    response.status_code = rejection.http_status
    return response


def to_xml(payload: dict[str, Any], root: str = "Response") -> bytes:
    elem = ET.Element(root)
    _fill(elem, payload)
    return ET.tostring(elem, encoding="utf-8", xml_declaration=True)


def _fill(elem: ET.Element, payload: dict[str, Any]) -> None:
    for key, value in payload.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            child = ET.SubElement(elem, key)
            if isinstance(item, dict):
                _fill(child, item)
            else:
                child.text = "" if item is None else str(item)


def parse_body(exchange: Exchange, *, code: str = "111200") -> dict[str, Any]:
    """The request body as a flat dict; XML <datas><data>…</data></datas> -> list."""
    request = exchange.request
    raw = request.body.strip()
    if not raw:
        return {}
    ctype = request.headers.get("Content-Type", "").lower()
    try:
        if "xml" in ctype:
            text = raw.decode("utf-8")
            if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
                raise ValueError("DOCTYPE/ENTITY refused")
            root = ET.fromstring(text)  # noqa: S314 - DTDs refused above
            return {child.tag: _xml_value(child) for child in root}
        value = json.loads(raw)
    except (ValueError, RecursionError, ET.ParseError) as exc:
        raise _reject(code, protocol.INVALID, f"body is not {ctype or 'JSON'} ({exc})") from None
    if not isinstance(value, dict):
        raise _reject(code, protocol.INVALID, "body must be an object")
    return value


def _xml_value(elem: ET.Element) -> Any:
    children = list(elem)
    if children:
        return [(child.text or "").strip() for child in children]
    return (elem.text or "").strip()


def required(fields: dict[str, Any], *names: str, code: str = "111200") -> None:
    for name in names:
        value = fields.get(name)
        if value is None or value == "" or value == []:
            raise _reject(code, protocol.INVALID, f"{name} is required")


def _fmt(moment: datetime) -> str:
    return timezone.localtime(moment, SHANGHAI).strftime(TIME_FORMAT)


# ---------------------------------------------------------------------- auth


def authenticate(
    exchange: Exchange, sid: str, *, sub: bool
) -> tuple[SandboxAccount, SandboxSubAccount | None]:
    """Check Authorization and sig (overview §2) for the URL's account level."""
    request = exchange.request
    stamp = _authorization_stamp(request.headers.get("Authorization", "").strip(), sid)
    sig = request.GET.get("sig", "")
    if not sig:
        raise _reject("111108", protocol.AUTH_FAILED)
    moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    if abs(timezone.now() - moment) > WINDOW:
        raise _reject("111105", protocol.STALE, stamp)
    account, sub_account, token = _signer(sid, sub=sub)
    exchange.account = account
    expected_sig, _ = vendor.sign(sid, token, stamp)
    # The document wants sig upper-case: a lower-case sig is a wrong sig.
    if not hmac.compare_digest(sig.encode(), expected_sig.encode()):
        raise _reject("111109", protocol.AUTH_FAILED)
    if not account.usable:
        raise _reject("111114", protocol.REFUSED)
    protocol.api_chaos(account)
    return account, sub_account


def _authorization_stamp(header: str, sid: str) -> str:
    """The timestamp of Authorization = Base64(sid:yyyyMMddHHmmss), checked."""
    if not header:
        raise _reject("111100", protocol.AUTH_FAILED)
    try:
        decoded = base64.b64decode(header, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _reject("111101", protocol.AUTH_FAILED) from None
    got_id, colon, stamp = decoded.partition(":")
    if not colon or not got_id or not stamp:
        raise _reject("111102", protocol.AUTH_FAILED)
    if got_id != sid:
        raise _reject("111112", protocol.AUTH_FAILED)
    try:
        datetime.strptime(stamp, "%Y%m%d%H%M%S")
    except ValueError:
        raise _reject("111104", protocol.AUTH_FAILED) from None
    return stamp


def _signer(sid: str, *, sub: bool) -> tuple[SandboxAccount, SandboxSubAccount | None, str]:
    """The account, sub-account (sub-account URLs) and token that sign for `sid`."""
    if sub:
        sub_account = (
            SandboxSubAccount.objects.select_related("account")
            .filter(sub_account_sid=sid, account__vendor="ccp")
            .first()
        )
        if sub_account is None:
            raise _reject("111130", protocol.UNKNOWN_ACCOUNT, sid)
        return sub_account.account, sub_account, sub_account.sub_token
    account = SandboxAccount.objects.filter(vendor="ccp", account_id=sid).first()
    if account is None:
        raise _reject("111113", protocol.UNKNOWN_ACCOUNT, sid)
    return account, None, account.secret


# ---------------------------------------------------------------------- handlers


def account_info(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    return render(
        exchange,
        {
            "statusCode": account.ccp_success_code,
            "Account": {
                "friendlyName": account.friendly_name or account.account_id,
                "type": "1",
                "status": str(account.state),
                "dateCreated": _fmt(account.created_at),
                "dateUpdated": _fmt(account.updated_at),
                "balance": f"{account.balance:.3f}",
            },
        },
    )


def create_sub_account(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    fields = parse_body(exchange)
    required(fields, "appId", "friendlyName")
    _check_app(account, fields)
    sub = services.sub_account_create(account=account, friendly_name=str(fields["friendlyName"]))
    section = _sub_payload(sub)
    if account.ccp_sub_account_sid_key != "subAccountSid":
        section = {account.ccp_sub_account_sid_key: section.pop("subAccountSid"), **section}
    return render(exchange, {"statusCode": account.ccp_success_code, "SubAccount": section})


def get_sub_accounts(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    fields = parse_body(exchange)
    required(fields, "appId")
    _check_app(account, fields)
    try:
        start = int(fields.get("startNo") or 0)
        count = int(fields.get("offset") or 100)
    except (TypeError, ValueError):
        raise _reject("111200", protocol.INVALID, "startNo/offset must be integers") from None
    if start < 0 or not 1 <= count <= 100:
        raise _reject("111200", protocol.INVALID, "startNo >= 0, offset 1-100")
    subs = list(account.subs.all())
    page = subs[start : start + count]
    return render(
        exchange,
        {
            "statusCode": account.ccp_success_code,
            "totalCount": str(len(subs)),
            "SubAccount": [_sub_payload(sub) for sub in page],
        },
    )


def query_sub_account_by_name(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    fields = parse_body(exchange)
    required(fields, "appId", "friendlyName")
    _check_app(account, fields)
    sub = account.subs.filter(friendly_name=str(fields["friendlyName"])).first()
    if sub is None:
        raise _reject("111130", protocol.NOT_FOUND, "no sub-account of that friendlyName")
    return render(
        exchange, {"statusCode": account.ccp_success_code, "SubAccount": _sub_payload(sub)}
    )


def sms_messages(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    fields = parse_body(exchange, code="160031")
    required(fields, "to", "body", "appId", code="160031")
    _check_app(account, fields, code="160031")
    message = services.message_create(
        account=account,
        kind="sms",
        to=_sms_recipients(account, fields["to"], refused="112305"),
        body=str(fields["body"]),
        sub_account_sid=str(fields.get("subAccountSid") or ""),
    )
    section = {"dateCreated": _fmt(message.created_at), "smsMessageSid": message.message_sid}
    return render(exchange, {"statusCode": account.ccp_success_code, "SMSMessage": section})


def template_sms(exchange: Exchange, sid: str) -> HttpResponse:
    account, _ = authenticate(exchange, sid, sub=False)
    fields = parse_body(exchange, code="160031")
    required(fields, "to", "appId", "templateId", code="160031")
    _check_app(account, fields, code="160031")
    datas = fields.get("datas") or []
    if isinstance(datas, str):
        datas = [datas]
    if not isinstance(datas, list):
        raise _reject("160031", protocol.INVALID, "datas must be a list")
    message = services.message_create(
        account=account,
        kind="template",
        to=_sms_recipients(account, fields["to"], refused="112310"),
        template_id=str(fields["templateId"]),
        datas=[str(item) for item in datas],
    )
    section = {"dateCreated": _fmt(message.created_at), "smsMessageSid": message.message_sid}
    # The JSON answer says templateSMS where the XML one says <TemplateSMS>.
    return render(
        exchange,
        {"statusCode": account.ccp_success_code, "templateSMS": section},
        xml_names={"templateSMS": "TemplateSMS"},
    )


def callback(exchange: Exchange, subsid: str) -> HttpResponse:
    account, _ = authenticate(exchange, subsid, sub=True)
    fields = parse_body(exchange)
    required(fields, "from", "to")
    if fields.get("subAccountSid") not in (None, "", subsid):
        raise _reject("111200", protocol.INVALID, "subAccountSid differs from the URL's")
    for name in ("from", "to"):
        if not _is_number(str(fields[name])):
            raise _reject("111200", protocol.INVALID, f"{name} is not a phone number")
    problem = vendor.callback_field_problem(fields)
    if problem:
        raise _reject("111200", protocol.INVALID, problem)
    call = services.call_request(
        account=account,
        kind=SandboxCall.Kind.CALLBACK,
        caller=str(fields["from"]),
        callee=str(fields["to"]),
        user_data=str(fields.get("userData") or ""),
        params={k: v for k, v in fields.items() if isinstance(v, str)} | {"subAccountSid": subsid},
        sandbox_base_url=exchange.sandbox_base_url,
    )
    section = {"callSid": call.call_id, "dateCreated": _fmt(call.created_at)}
    return render(exchange, {"statusCode": account.ccp_success_code, "CallBack": section})


def _check_app(account: SandboxAccount, fields: dict[str, Any], *, code: str = "111200") -> None:
    if account.app_id and str(fields.get("appId")) != account.app_id:
        raise _reject(code, protocol.INVALID, "appId is not this account's application")


def _numbers(value: Any) -> list[str]:
    numbers = [n.strip() for n in str(value).split(",") if n.strip()]
    if not numbers or not all(_is_number(n) for n in numbers):
        raise _reject("160031", protocol.INVALID, "to must be comma-separated phone numbers")
    return numbers


def _sms_recipients(account: SandboxAccount, value: Any, *, refused: str) -> list[str]:
    """The request's numbers, once the application's state lets it send to all of them."""
    numbers = _numbers(value)
    if account.ccp_app_state in APP_NO_SMS:
        raise _reject("112312", protocol.REFUSED)
    if account.ccp_app_state in APP_REGISTERED_ONLY:
        registered = {_national(n) for n in account.ccp_registered_numbers or []}
        outsiders = [n for n in numbers if _national(n) not in registered]
        if outsiders:
            raise _reject(refused, protocol.REFUSED, f"{len(outsiders)} number(s) not registered")
    return numbers


def _national(number: Any) -> str:
    """13800138000 for 13800138000, +8613800138000 or 008613800138000."""
    digits = str(number).strip().removeprefix("+").removeprefix("00")
    return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits


def _is_number(value: str) -> bool:
    digits = value[1:] if value.startswith("+") else value
    return digits.isdigit() and digits.isascii() and 5 <= len(digits) <= 20


def _sub_payload(sub: SandboxSubAccount) -> dict[str, str]:
    return {
        "subAccountSid": sub.sub_account_sid,
        "subToken": sub.sub_token,
        "voipAccount": sub.voip_account,
        "voipPwd": sub.voip_password,
        "friendlyName": sub.friendly_name,
        "status": sub.status,
        "type": "1",
        "dateCreated": _fmt(sub.created_at),
    }


# ---------------------------------------------------------------------- callbacks


def callbacks(call: SandboxCall, *, recording_url: str) -> list[Outgoing]:
    """A finished two-way call's notifications: CallAuth when the platform starts
    it, CallEstablish when answered, then the Hangup CDR (to hangupCdrUrl when the
    request gave one: the SDK's 实时话单通知地址)."""
    account = call.account
    answered = call.outcome == CallOutcome.ANSWERED
    byetype = _ANSWERED_BY_SIDE.get(call.release_side, "1") if answered else BYETYPES[call.outcome]
    base = {"callSid": call.call_id, "caller": call.caller, "called": call.callee}
    if call.user_data:
        base["userData"] = call.user_data
    fields = {
        "action": "Hangup",
        **base,
        "starttime": _fmt(call.answer_at) if answered and call.answer_at else "",
        "endtime": _fmt(call.release_at) if call.release_at else "",
        "duration": str(call.duration if answered else 0),
        "byetype": byetype,
        "recordurl": recording_url,
        "userData": call.user_data,
    }
    events = [("CallAuth", call.begin_at)]
    if answered and call.answer_at:
        events.append(("CallEstablish", call.answer_at))
    authorization = vendor.platform_authorization(account.platform_mac, account.secret)
    event_url = account.callback_urls.get("cdr", "")
    hangup_url = (call.params or {}).get("hangupCdrUrl") or event_url
    return [
        *(
            _outgoing(
                event_url,
                action.lower(),
                {"action": action, **base, "time": _fmt(at)},
                authorization,
            )
            for action, at in events
            if at is not None
        ),
        _outgoing(hangup_url, "hangup", fields, authorization),
    ]


def _outgoing(url: str, event: str, fields: dict[str, Any], authorization: str) -> Outgoing:
    return Outgoing(
        kind="cdr",
        event=event,
        url=url,
        body=to_xml(fields, root="Request"),
        content_type="application/xml;charset=utf-8",
        sign=lambda url: {"Authorization": authorization},
    )


# ---------------------------------------------------------------------- plug-in


BASE_PATH = VERSION  # an account's base_url is …/sandbox/ccp/2013-12-26
# Overview §2: main-account and sub-account levels.
ROUTES = (
    Route("2013-12-26/Accounts/<str:sid>/AccountInfo", ("GET",), account_info),
    Route("2013-12-26/Accounts/<str:sid>/SubAccounts", ("POST",), create_sub_account),
    Route("2013-12-26/Accounts/<str:sid>/GetSubAccounts", ("POST",), get_sub_accounts),
    Route(
        "2013-12-26/Accounts/<str:sid>/QuerySubAccountByName", ("POST",), query_sub_account_by_name
    ),
    Route("2013-12-26/Accounts/<str:sid>/SMS/Messages", ("POST",), sms_messages),
    Route("2013-12-26/Accounts/<str:sid>/SMS/TemplateSMS", ("POST",), template_sms),
    Route("2013-12-26/SubAccounts/<str:subsid>/Calls/Callback", ("POST",), callback),
)
DEMO_ACCOUNT = {
    "name": "Demo CCP",
    "account_id": "8a216da8000000000000000000000001",
    "secret": "demo0ccp0auth0token0000000000001",
    "app_id": "8a216da8000000000000000000000a01",
    "extra": {"format": "json", "platform_mac": "EC-55-F9-C7-62-CE"},
    "numbers": [],
}


def mirror_fields(vendor_account: Any) -> dict[str, Any]:
    """What ensure_sandbox_account copies besides the credentials: the MAC the
    platform puts in Base64(MAC:AuthToken)."""
    return {
        "platform_mac": str(
            vendor_account.extra.get("platform_mac") or SandboxAccount().platform_mac
        )
    }


def new_call_id(now: datetime) -> str:
    """callSid: a Beijing timestamp and digits, 32 characters."""
    return now.astimezone(SHANGHAI).strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10**20):020d}"


def records_by_default(call: SandboxCall) -> bool:
    # Answered calls are recorded unless the request said needRecord "0".
    return (call.params or {}).get("needRecord") != "0"
