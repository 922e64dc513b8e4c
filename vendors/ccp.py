"""ccp: the CCP / cloopen-style REST platform (code "ccp").

Documents: vendor-docs/ccp-rest-overview.txt (§2 统一请求包头: URL levels,
sig, Authorization; §3 XML/JSON) and ccp-rest-php-guide.txt (§1.3 安全机制:
both directions of authentication; §2.5.1 创建子账户, §2.5.2 发送短信,
§2.5.3 双向回呼; §3 error codes).

Signing (overview §2): sig = upper(MD5(accountSid + authToken + timestamp)) in
the query string, Authorization = Base64(accountSid + ":" + timestamp); the
same timestamp string in both.  Sub-account URLs (/SubAccounts/{sid}/...) are
signed with the sub-account's own sid and token.  The body is not signed.

CHOICES where the documents are silent or ambiguous (each is one place here):
- Timestamp: the doc says "current system time"; the official SDK formats the
  local clock and the platform runs on Beijing time, so `beijing_timestamp`
  formats yyyyMMddHHmmss in Asia/Shanghai whatever the server's zone.
- Success is any all-zero numeric statusCode (`is_success`): the SDKs
  compare the string "000000", the guide says "成功返回值为0" and its PHP
  `$data->statusCode != 0` compares loosely, so "0", "000000" and a JSON
  number 0 all mean success there.  Anything else (including "", "0.0",
  false) is the error code.
- JSON bodies are built with json.dumps (the guide's single-quoted
  hand-built JSON is not JSON).  XML bodies: the guide's root elements
  (SubAccount, SMSMessage, TemplateSMS, CallBack); list values are written as
  <datas><data>..</data></datas> (`_XML_ITEMS`).
- `to` is sent as one comma-separated string ("号码集合"; the SDK does so).
  The guide states no maximum count of numbers per request: we send at most
  `sms_max_recipients` = 100 per request (the console splits larger sends into
  batches of 100, each its own request), a size the platform is commonly
  reported to accept; one place to change.
- SMS application-state rules (guide §2.5.2 说明): a disabled (0) or deleted
  (-1) application sends no SMS; an unpublished/offline (1), in-review (3) or
  rejected (4) one sends only to the account's registered numbers. The codes
  are not in our documents: 112305 (SMS) and 112310 (template SMS) "应用未上线，
  …接收号码外呼受限" are the platform's, as a cloopen SDK user's table lists
  them with the other 1123xx SMS codes; for a disabled or deleted application
  no code is known and we (and the sandbox) use 112312.  Their English glosses
  name the rule, so the console's error says which rule refused the send.
- two_way_call: the guide's JSON body has only from/to while its XML body
  also has subAccountSid (the URL carries it anyway); we follow the guide
  literally per format.  The optional fields are the official SDK's
  callBack(from, to, customerSerNum, fromSerNum, promptTone, alwaysPlay,
  terminalDtmf, userData, maxCallTime, hangupCdrUrl, needBothCdr, needRecord,
  countDownTime, countDownPrompt), named in snake_case on `two_way_call` and
  sent only when given.  The guide has no table for them, so their rules are
  OUR reading of the SDK's comments, one table (`CALLBACK_FIELDS`, checked by
  `callback_field_problem`, which the sandbox uses too): the display numbers
  (customerSerNum: what the callee sees, fromSerNum: what the caller sees;
  there is no "toSerNum") are phone numbers; promptTone/countDownPrompt are
  .wav file names; alwaysPlay "true"/"false"; terminalDtmf one key of 0-9*#;
  userData at most 256 ASCII characters; maxCallTime and countDownTime whole
  seconds (countDownTime below maxCallTime when both are given, and
  countDownPrompt only with countDownTime); hangupCdrUrl an http(s) URL;
  needBothCdr and needRecord "0"/"1".  Everything is sent as a string, as the
  SDK does.
- Call events: the documents give no event bodies.  Besides Hangup, the
  platform posts, to the same callback URL (so the same "cdr" kind), the
  cloopen-style actions CallAuth (the platform starts the call: event
  "call_start") and CallEstablish (the callee answered: event "answer"), with
  callSid, caller, called, userData and `time` ("yyyy-MM-dd HH:mm:ss" or
  yyyyMMddHHmmss, Beijing; required, since an event without a time cannot be
  placed).  `CALL_EVENT_ACTIONS` is the one mapping.
- Responses: the create-sub-account answer is read from SubAccount with
  subAccountSid|accountSid (the SDKs name the first, the guide's PHP reads
  the second), subToken|authToken, voipAccount, voipPwd, dateCreated,
  friendlyName, status and type (the guide's PHP prints it); GetSubAccounts
  sends appId/startNo/offset and reads SubAccount as one object or a list.
  GetSubAccounts and QuerySubAccountByName are not in our two documents (the
  overview names 获取子账户 only): both follow the official PHP SDK
  (CCPRestSDK getSubAccounts / querySubAccount, same URL level and signing as
  create, body appId + startNo/offset, resp. appId + friendlyName, root
  <SubAccount> in XML; startNo from 0, offset 1-100; answer SubAccount with
  subAccountSid, subToken, voipAccount, voipPwd, dateCreated[, friendlyName]).
  A name the platform does not know is read as 111130 (NotFound).  dateCreated accepts
  "yyyyMMddHHmmss" and "yyyy-MM-dd HH:mm:ss", Beijing time.  AccountInfo's
  Account.status "0" trial, "1" active, "2" suspended, "3" closed.
- Error codes: the platform table (《平台错误码》) is not in our documents.
  `error_map` holds the cloopen-style authentication family (1111xx), which the
  sandbox answers too, the generic parameter codes and the SDK's local 172001;
  other codes fall back on the HTTP status (guide §3.2), else a non-retryable
  VendorError.  Add a row here when the real table is at hand.
- Hangup callback ("cdr"): the documents do not give the body.  We take the
  cloopen-style XML <Request><action>Hangup</action><callSid/><caller/>
  <called/><starttime/><endtime/><byetype/><recordurl/><userData/></Request>
  (JSON with the same keys also accepted); starttime is the answer time ("" if
  never answered), times as for dateCreated; byetype per `BYETYPE`.
- Callback authentication (guide §1.3, platform → us): Authorization header =
  Base64(MAC:AuthToken), token = this account's main token, MAC checked only
  when extra["platform_mac"] is set.  The decoded string is split at its LAST
  colon so a colon-separated MAC also works.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from ._util import (
    SHANGHAI,
    aware,
    decode_body,
    dict_to_xml,
    get_int,
    get_str,
    header,
    parse_time,
    xml_to_dict,
)
from .account_settings import Setting
from .base import ErrorRow, Reply, Signature, VendorClient
from .ccp_tables import (
    BYETYPE,
    BYETYPE_TEXT,
    CALL_EVENT_ACTIONS,
    CALLBACK_FIELDS,
    ERRORS,
    callback_field_problem,
    callback_optional,
)
from .errors import (
    CallbackAuthError,
    InvalidPayload,
    ResponseError,
)
from .types import (
    AccountStatus,
    CallEventData,
    CallOutcome,
    CallRecordData,
    SmsResult,
    SubAccountData,
    TwoWayCallResult,
)

__all__ = [
    "BYETYPE",
    "CALLBACK_FIELDS",
    "CALL_EVENT_ACTIONS",
    "CcpClient",
    "beijing_timestamp",
    "callback_field_problem",
    "is_success",
    "platform_authorization",
    "sign",
    "verify_platform_authorization",
]

SUCCESS = "000000"
_TIME_FORMATS = ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S")
_XML_ITEMS = {"datas": "data"}
_ACCOUNT_STATES = {"0": "trial", "1": "active", "2": "suspended", "3": "closed"}


def is_success(status: Any) -> bool:
    """statusCode means success: any all-zero numeric code, as a string or a JSON number."""
    if isinstance(status, bool):  # JSON false is not the number 0
        return False
    if isinstance(status, int):
        return status == 0
    text = status.strip() if isinstance(status, str) else ""
    return bool(text) and set(text) == {"0"}


def beijing_timestamp(now: datetime | None = None) -> str:
    """yyyyMMddHHmmss in Asia/Shanghai (naive `now` is taken as UTC)."""
    return aware(now).astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


def sign(account_id: str, token: str, timestamp: str) -> tuple[str, str]:
    """Return (sig, Authorization) for one request (overview §2)."""
    sig = hashlib.md5(f"{account_id}{token}{timestamp}".encode()).hexdigest().upper()  # noqa: S324 - vendor protocol
    authorization = base64.b64encode(f"{account_id}:{timestamp}".encode()).decode("ascii")
    return sig, authorization


def platform_authorization(mac: str, token: str) -> str:
    """The header the platform sends us: Base64(MAC:AuthToken) (guide §1.3)."""
    return base64.b64encode(f"{mac}:{token}".encode()).decode("ascii")


def verify_platform_authorization(value: str, *, token: str, mac: str = "") -> None:
    """Check a platform → us Authorization header; raise CallbackAuthError.

    The header embeds a token, so nothing decoded from it is echoed back.
    """
    expected = "Authorization = Base64(MAC:AuthToken) with this account's AuthToken"
    if mac:
        expected += f" and MAC {mac}"
    if not value:
        raise CallbackAuthError("missing Authorization header", expected=expected, received="")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise CallbackAuthError(
            "Authorization is not Base64 text", expected=expected, received=f"{len(value)} chars"
        ) from None
    got_mac, colon, got_token = decoded.rpartition(":")
    if not colon:
        raise CallbackAuthError(
            "Authorization does not decode to MAC:AuthToken", expected=expected, received="no colon"
        )
    received = f"MAC {got_mac!r} with a {len(got_token)}-char token"
    if not hmac.compare_digest(got_token.encode(), token.encode()):
        raise CallbackAuthError("AuthToken did not match", expected=expected, received=received)
    if mac and not hmac.compare_digest(got_mac.upper().encode(), mac.upper().encode()):
        raise CallbackAuthError("MAC did not match", expected=expected, received=received)


class CcpClient(VendorClient):
    """Client for one ccp main account (account_id = ACCOUNT SID, secret =
    AUTH TOKEN, app_id = the application id).  extra["format"] selects
    "json" (default) or "xml" for request and response bodies."""

    code: ClassVar[str] = "ccp"
    label: ClassVar[str] = "CCP REST (cloopen style)"
    call_result_codes = {code: (row[0], BYETYPE_TEXT[code]) for code, row in BYETYPE.items()}
    callback_kinds: ClassVar[tuple[str, ...]] = ("cdr",)
    # No document gives a callback answer: this mirrors the API's own success shape.
    callback_ack: ClassVar[tuple[str, bytes]] = (
        "application/xml",
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b"<Response><statuscode>000000</statuscode></Response>",
    )
    recording_source: ClassVar[str] = "url"  # Hangup recordurl
    supports_account_status: ClassVar[bool] = True
    supports_sub_accounts: ClassVar[bool] = True
    supports_sms: ClassVar[bool] = True
    supports_two_way_calls: ClassVar[bool] = True
    sms_max_recipients: ClassVar[int] = 100  # OUR CHOICE: see the module docstring
    credential_names: ClassVar[tuple[str, str, str]] = ("accountSid", "authToken", "appId")
    account_settings: ClassVar[Mapping[str, Setting]] = {
        "format": Setting(str, "Request/response format.", choices=("json", "xml")),
        "platform_mac": Setting(str, "MAC the platform sends in Base64(MAC:AuthToken)."),
    }
    error_map: ClassVar[Mapping[str, ErrorRow]] = ERRORS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fmt = str(self.extra.get("format", "json")).lower()
        if fmt not in ("json", "xml"):
            raise ValueError(f"ccp: extra['format'] must be 'json' or 'xml', not {fmt!r}")
        self.format = fmt

    # ------------------------------------------------------------------ signing

    def _sign(self) -> Signature:
        return self._sign_as(self.account_id, self._secret)

    def _sign_as(self, sid: str, token: str) -> Signature:
        sig, authorization = sign(sid, token, beijing_timestamp())
        return {"sig": sig}, {"Authorization": authorization}

    # ------------------------------------------------------------------ transport

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": f"application/{self.format}",
            "Content-Type": f"application/{self.format};charset=utf-8",
        }

    def _body(self, root: str, fields: Mapping[str, Any]) -> bytes:
        if self.format == "xml":
            return dict_to_xml(root, fields, item_tags=_XML_ITEMS)
        return json.dumps(fields, ensure_ascii=False).encode("utf-8")

    def _call(
        self,
        method: str,
        path: str,
        *,
        root: str = "",
        fields: Mapping[str, Any] | None = None,
        sub: tuple[str, str] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        data = self._body(root, fields) if fields is not None else None
        signer = (lambda: self._sign_as(*sub)) if sub else None
        return self._send(
            method, path, data=data, headers=self._headers(), signer=signer, idempotent=idempotent
        )

    def _interpret(self, response: requests.Response) -> Reply:
        payload = self._decode(response)
        if payload is None:
            if response.ok:
                raise self._unexpected(response)
            return Reply(None, "", self._http_error(response))
        status = payload.get("statusCode")
        code = "" if status is None else str(status)
        if is_success(status) and response.ok:
            return Reply(payload, code)
        if not code:
            return Reply(payload, "", self._http_error(response))
        return Reply(
            payload,
            code,
            self._error(code, _text(payload, "statusMsg"), http_status=response.status_code),
        )

    def _decode(self, response: requests.Response) -> dict[str, Any] | None:
        """Decode by the response's own Content-Type (error pages may differ)."""
        text = response.content.strip()
        if not text:
            return None
        ctype = response.headers.get("Content-Type", "").lower()
        try:
            if "xml" in ctype or text.startswith(b"<"):
                return xml_to_dict(text)
            value = json.loads(text)
        except (InvalidPayload, ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    # ------------------------------------------------------------------ API

    def account_info(self) -> AccountStatus:
        """GET /Accounts/{sid}/AccountInfo."""
        payload = self._call("GET", f"/Accounts/{self._sid}/AccountInfo")
        account = _section(payload, "Account")
        return AccountStatus(
            state=_ACCOUNT_STATES.get(_text(account, "status"), "unknown"),
            balance=_decimal(account.get("balance")),
            overdraft=None,
            created_at=_time(account, "dateCreated"),
            updated_at=_time(account, "dateUpdated"),
            raw=payload,
        )

    # The normalized name every client answers to; AccountInfo is ccp's endpoint for it.
    account_status = account_info

    def create_sub_account(self, friendly_name: str) -> SubAccountData:
        """POST /Accounts/{sid}/SubAccounts (guide §2.5.1)."""
        fields = {"appId": self.app_id, "friendlyName": friendly_name}
        payload = self._call(
            "POST", f"/Accounts/{self._sid}/SubAccounts", root="SubAccount", fields=fields
        )
        return _sub_account(_section(payload, "SubAccount"), friendly_name)

    def query_sub_accounts(self, start: int = 0, count: int = 100) -> list[SubAccountData]:
        """POST /Accounts/{sid}/GetSubAccounts (paged by startNo/offset)."""
        fields = {"appId": self.app_id, "startNo": str(start), "offset": str(count)}
        payload = self._call(
            "POST", f"/Accounts/{self._sid}/GetSubAccounts", root="SubAccount", fields=fields
        )
        items = payload.get("SubAccount") or []
        if isinstance(items, dict):
            items = [items]
        return [_sub_account(item, "") for item in items if isinstance(item, dict)]

    def query_sub_account_by_name(self, friendly_name: str) -> SubAccountData:
        """POST /Accounts/{sid}/QuerySubAccountByName: the sub-account of this
        application with that friendlyName (raises NotFound, 111130, if none)."""
        fields = {"appId": self.app_id, "friendlyName": friendly_name}
        payload = self._call(
            "POST",
            f"/Accounts/{self._sid}/QuerySubAccountByName",
            root="SubAccount",
            fields=fields,
        )
        return _sub_account(_section(payload, "SubAccount"), friendly_name)

    def send_sms(
        self, to: list[str], body: str, msg_type: str = "0", sub_account_sid: str = ""
    ) -> SmsResult:
        """POST /Accounts/{sid}/SMS/Messages (guide §2.5.2)."""
        fields = {
            "to": ",".join(to),
            "body": body,
            "msgType": msg_type,
            "appId": self.app_id,
            "subAccountSid": sub_account_sid,
        }
        payload = self._call(
            "POST",
            f"/Accounts/{self._sid}/SMS/Messages",
            root="SMSMessage",
            fields=fields,
            idempotent=False,
        )
        return _sms(payload, "SMSMessage")

    def send_template_sms(self, to: list[str], template_id: str, datas: list[str]) -> SmsResult:
        """POST /Accounts/{sid}/SMS/TemplateSMS.  The JSON answer says
        `templateSMS` where the XML one says <TemplateSMS>."""
        fields = {
            "to": ",".join(to),
            "appId": self.app_id,
            "templateId": template_id,
            "datas": list(datas),
        }
        payload = self._call(
            "POST",
            f"/Accounts/{self._sid}/SMS/TemplateSMS",
            root="TemplateSMS",
            fields=fields,
            idempotent=False,
        )
        return _sms(payload, "templateSMS" if "templateSMS" in payload else "TemplateSMS")

    def two_way_call(
        self,
        *,
        sub_account_sid: str,
        sub_token: str,
        from_number: str,
        to_number: str,
        customer_ser_num: str = "",
        from_ser_num: str = "",
        prompt_tone: str = "",
        always_play: bool | None = None,
        terminal_dtmf: str = "",
        user_data: str = "",
        max_call_time: int | None = None,
        hangup_cdr_url: str = "",
        need_both_cdr: bool | None = None,
        need_record: bool | None = None,
        count_down_time: int | None = None,
        count_down_prompt: str = "",
    ) -> TwoWayCallResult:
        """POST /SubAccounts/{sid}/Calls/Callback, signed with the
        sub-account's own sid and token (guide §2.5.3).

        Optional fields (the SDK's callBack; sent only when given):
        customer_ser_num = customerSerNum (the number the callee sees),
        from_ser_num = fromSerNum (the number the caller sees),
        prompt_tone = promptTone, always_play = alwaysPlay ("true"/"false"),
        terminal_dtmf = terminalDtmf, user_data = userData,
        max_call_time = maxCallTime (s), hangup_cdr_url = hangupCdrUrl,
        need_both_cdr = needBothCdr ("0"/"1"), need_record = needRecord
        ("0"/"1"), count_down_time = countDownTime (s),
        count_down_prompt = countDownPrompt.  Raises ValueError naming the
        documented field before sending when one breaks `CALLBACK_FIELDS`.
        """
        optional = callback_optional(
            customer_ser_num=customer_ser_num,
            from_ser_num=from_ser_num,
            prompt_tone=prompt_tone,
            always_play=always_play,
            terminal_dtmf=terminal_dtmf,
            user_data=user_data,
            max_call_time=max_call_time,
            hangup_cdr_url=hangup_cdr_url,
            need_both_cdr=need_both_cdr,
            need_record=need_record,
            count_down_time=count_down_time,
            count_down_prompt=count_down_prompt,
        )
        problem = callback_field_problem(optional)
        if problem:
            raise ValueError(f"ccp: {problem}")
        fields: dict[str, Any] = {}
        if self.format == "xml":
            fields["subAccountSid"] = sub_account_sid
        fields.update({"from": from_number, "to": to_number})
        fields.update(optional)
        payload = self._call(
            "POST",
            f"/SubAccounts/{quote(sub_account_sid, safe='')}/Calls/Callback",
            root="CallBack",
            fields=fields,
            sub=(sub_account_sid, sub_token),
            idempotent=False,
        )
        section = _section(payload, "CallBack")
        call_sid = _text(section, "callSid")
        if not call_sid:
            raise ResponseError(self.code, SUCCESS, "CallBack answer without callSid")
        return TwoWayCallResult(
            call_sid=call_sid, created_at=_time(section, "dateCreated"), raw=payload
        )

    @classmethod
    def two_way_call_problem(cls, **options: Any) -> str:
        """What two_way_call would refuse in these optional keyword args ("" if none)."""
        unknown = sorted(set(options) - set(CALLBACK_FIELDS))
        if unknown:
            return f"unknown option {unknown[0]}"
        return callback_field_problem(callback_optional(**options))

    @property
    def _sid(self) -> str:
        return quote(self.account_id, safe="")

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
        """Guide §1.3: Authorization = Base64(MAC:AuthToken)."""
        verify_platform_authorization(
            header(headers, "Authorization"),
            token=self._secret,
            mac=str(self.extra.get("platform_mac", "")),
        )

    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        fields = decode_body(body, content_type, allow_xml=True)
        if "Request" in fields and isinstance(fields["Request"], dict):
            fields = fields["Request"]  # JSON wrapped like the XML root
        action = get_str(fields, "action", required=True).lower()
        if action in CALL_EVENT_ACTIONS:
            return [self._event(CALL_EVENT_ACTIONS[action], fields)]
        if action != "hangup":
            raise InvalidPayload(
                f"ccp cdr: unsupported action {action!r} (expected Hangup, CallAuth "
                "or CallEstablish)"
            )
        call_sid = get_str(fields, "callSid", required=True)
        answer_at = _cb_time(fields, "starttime")
        release_at = _cb_time(fields, "endtime")
        byetype = get_str(fields, "byetype")
        outcome, side = BYETYPE.get(byetype, (CallOutcome.OTHER, ""))
        if outcome is CallOutcome.ANSWERED and answer_at is None:
            # A "hung up" byetype without an answer time: the call never connected.
            outcome = CallOutcome.NO_ANSWER
        duration = get_int(fields, "duration", default=-1)
        if duration < 0:
            duration = (
                int((release_at - answer_at).total_seconds()) if answer_at and release_at else 0
            )
        return [
            CallRecordData(
                vendor=self.code,
                call_id=call_sid,
                vendor_binding_id="",
                caller=get_str(fields, "caller"),
                callee=get_str(fields, "called"),
                x_number="",
                outcome=outcome,
                raw_code=byetype,
                raw_text="",
                begin_at=answer_at,
                ring_at=None,
                answer_at=answer_at,
                release_at=release_at,
                duration=max(duration, 0),
                release_side=side,
                user_data=get_str(fields, "userData"),
                recording_url=get_str(fields, "recordurl"),
                raw=fields,
            )
        ]

    def _event(self, kind: str, fields: Mapping[str, Any]) -> CallEventData:
        occurred = _cb_time(fields, "time")
        if occurred is None:
            raise InvalidPayload("missing required field 'time'")
        return CallEventData(
            vendor=self.code,
            call_id=get_str(fields, "callSid", required=True),
            kind=kind,
            occurred_at=occurred,
            caller=get_str(fields, "caller"),
            callee=get_str(fields, "called"),
            user_data=get_str(fields, "userData"),
            raw=dict(fields),
        )


# ---------------------------------------------------------------------- helpers

_SECRET_KEYS = frozenset({"subToken", "authToken", "voipPwd", "voipPassword"})


def _section(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        raise ResponseError("ccp", SUCCESS, f"success answer without {key}")
    return value


def _text(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _time(section: Mapping[str, Any], key: str) -> datetime | None:
    try:
        return parse_time(_text(section, key), _TIME_FORMATS, SHANGHAI, key=key)
    except InvalidPayload:
        return None  # a display field; never fail a successful call over it


def _cb_time(fields: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(get_str(fields, key), _TIME_FORMATS, SHANGHAI, key=key)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, dict | list | bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _sub_account(item: dict[str, Any], friendly_name: str) -> SubAccountData:
    return SubAccountData(
        sub_account_sid=_text(item, "subAccountSid") or _text(item, "accountSid"),
        sub_token=_text(item, "subToken") or _text(item, "authToken"),
        voip_account=_text(item, "voipAccount"),
        voip_password=_text(item, "voipPwd"),
        friendly_name=_text(item, "friendlyName") or friendly_name,
        status=_text(item, "status"),
        type=_text(item, "type"),
        created_at=_time(item, "dateCreated"),
        # Tokens and VoIP passwords are returned as fields above; raw must be
        # safe to store and show.
        raw={k: v for k, v in item.items() if k not in _SECRET_KEYS},
    )


def _sms(payload: dict[str, Any], key: str) -> SmsResult:
    section = _section(payload, key)
    message_id = _text(section, "smsMessageSid")
    if not message_id:
        raise ResponseError("ccp", SUCCESS, f"{key} answer without smsMessageSid")
    return SmsResult(message_id=message_id, created_at=_time(section, "dateCreated"), raw=payload)
