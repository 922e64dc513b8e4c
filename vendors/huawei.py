"""huawei: voice verification code calls with AKSK auth (code "huawei").

Document: vendor-docs/huawei-voice-verify-aksk.txt: the request headers
table (表2: Authorization, X-AKSK, PasswordDigest, Nonce, Created, 表3 time
formats), the request body (表4), the response (表5), the result codes with
handling advice (表6), and the status push section (eventType callout /
alerting / answer / disconnect, 表5-表8, with its own PasswordDigest rule).

Signing: Authorization is the fixed `AKSK realm="SDP",profile="UsernameToken",
type="Appkey"`; X-AKSK carries Username (app_key), PasswordDigest =
Base64(HMAC-SHA256(app_secret, Nonce + Created)) over the RAW 32-byte digest
(44 characters), Nonce (32 upper-case hex from `secrets`) and Created (real
UTC, %Y-%m-%dT%H:%M:%SZ).  account_id = app_key, secret = app_secret.

CHOICES where the document is silent or ambiguous (each is one place here):
- Result code 1010010 appears twice: under 401 ("Invalid digest") and under
  403 ("flow control upper limit").  `error_map` keys "401/1010010" and
  "403/1010010" carry the two meanings; the bare code (any other status)
  reads as flow control, the safer misreading (a retry, not a disabled
  account).
- Retryable: 1010009, 403/1010010, 1020154, 1020165 (advice: "wait a minute")
  and 1023002 ("send the request again").  The 500-class "contact the admin"
  codes (1010001, 1020002, 1023001) are NOT retried: call_verify has no
  idempotency key and a retry could ring the user twice.  Per-number frequency
  and quota limits (1013001-3, 1013116-8) are PermissionDenied, not
  RateLimited: they last far longer than our backoff.
- Push signature: the status-push section marks Authorization and X-AKSK as
  required (是否必选: 是) and says PasswordDigest =
  Base64(HMAC(appSecret, url + nonce + created)) with url = the status push
  URL we configured; `push_digest` implements that and
  `authenticate_callback` expects `url` to be exactly that URL (the one given
  as statusUrl/feeUrl).  Username must equal app_key; Created must be within
  extra["push_window_seconds"] (default 300) of now; Nonce must be 1-128
  letters and digits (表2).
- Push signature enforcement, per account, extra["push_signature"]:
  "require" (the default, what the document says): a push whose X-AKSK is
  missing, malformed, for another app_key, stale or wrongly signed, or whose
  Nonce was already used with another body, is refused (401, kept raw as
  rejected_auth, replayable with skip-auth).  "verify": the explicit opt-in
  for an operator migrating an account: the same checks run and the verdict
  is recorded on the delivery, but the push is accepted.  "off" is the old
  name of "verify" and means the same (we never skip the check silently).
  The mode is applied on the Django side; this client only verifies.
- Nonce reuse: the digest covers url + Nonce + Created but NOT the body, so a
  captured header could carry another body until Created goes stale.
  `callback_nonce` hands the Nonce and the end of its window to the caller,
  which remembers it (callbacks.CallbackNonce) and refuses a second use with
  a different body.  The same Nonce with the same body is a vendor retry that
  reused its headers: harmless (the delivery dedups), so allowed.
- What we show of an X-AKSK: Username and Created only (`x_aksk_summary`).
  PasswordDigest and Nonce are never put in an error's `received`, so a page
  showing why a push was refused cannot hand out a reusable header.
- Fee (CDR) push: the document only names feeUrl.  We take Huawei's
  published fee format {"eventType":"fee","feeLst":[{...}, ...]} with
  sessionId, direction, callerNum, calleeNum, fwdDisplayNum, fwdStartTime,
  fwdAlertingTime, fwdAnswerTime, callEndTime, fwdUnaswRsn, ulFailReason,
  sipStatusCode, recordFlag, recordFileDownloadUrl, userData; times UTC
  "yyyy-MM-dd HH:mm:ss".  One push → a list of records.  Outcome: ANSWERED if
  fwdAnswerTime is set, else from sipStatusCode (`SIP_OUTCOMES`), else
  NO_ANSWER when the callee rang, else FAILED.  raw_code = fwdUnaswRsn or
  sipStatusCode; raw_text = ulFailReason.
- statusUrl/feeUrl (表4: String(1-128), "采用BASE64编码", URL only of
  a-z A-Z 0-9 - : . /): the 128 limit is read as the length of the field as
  sent, i.e. the Base64 text (a URL of at most 96 characters), the stricter
  reading and what a length check on the request field does;
  `push_url_value` checks both before anything is sent (ValueError naming
  the field).  This is why webhook tokens are hex.
- Both callback kinds dispatch on eventType, so a fee push that arrives on
  the status URL (or the reverse) is still understood.
- Status push timestamps ("yyyy-MM-dd HH:mm:ss", documented as UTC) → aware
  UTC.  x_number is "" (a voice code has no privacy number); the display
  number is the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from ._util import aware, decode_body, get_dict, get_int, get_str, header, parse_time
from .account_settings import Setting
from .base import ErrorRow, Reply, Signature, VendorClient
from .errors import (
    CallbackAuthError,
    InvalidPayload,
    ResponseError,
)
from .huawei_errors import ERRORS
from .types import CallbackNonce, CallEventData, CallOutcome, CallRecordData, VoiceCodeResult

__all__ = [
    "AUTHORIZATION",
    "SIP_OUTCOMES",
    "HuaweiClient",
    "aksk_headers",
    "parse_x_aksk",
    "password_digest",
    "push_digest",
    "push_headers",
    "push_url_value",
    "x_aksk_summary",
]

AUTHORIZATION = 'AKSK realm="SDP",profile="UsernameToken",type="Appkey"'
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_PUSH_TIME = ("%Y-%m-%d %H:%M:%S",)
_EVENT_KINDS = ("callout", "alerting", "answer", "disconnect")
_X_AKSK_PAIR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_SECRET_PAIRS = re.compile(r'\b(PasswordDigest|Nonce)\s*=\s*"[^"]*"')
_X_AKSK_KEYS = ("Username", "PasswordDigest", "Nonce", "Created")
_DIGITS = re.compile(r"[0-9]{2,8}")
_NONCE = re.compile(r"[0-9A-Za-z]{1,128}")  # 表2: 1-128 digits and letters
DEFAULT_PUSH_WINDOW = 300
# 表4 statusUrl/feeUrl: the URL's characters, and the field's String(1-128).
URL_CHARS = re.compile(r"[A-Za-z0-9\-:./]+")
MAX_PUSH_URL = 128

# Unanswered fee records: SIP final status -> outcome (our choice, see docstring).
SIP_OUTCOMES: dict[str, CallOutcome] = {
    "486": CallOutcome.BUSY,
    "600": CallOutcome.BUSY,
    "408": CallOutcome.NO_ANSWER,
    "480": CallOutcome.NO_ANSWER,
    "487": CallOutcome.NO_ANSWER,  # cancelled while ringing
    "603": CallOutcome.REJECTED,
    "404": CallOutcome.INVALID_NUMBER,
    "484": CallOutcome.INVALID_NUMBER,
    "604": CallOutcome.INVALID_NUMBER,
    "403": CallOutcome.BLOCKED,
    "503": CallOutcome.UNREACHABLE,
    "502": CallOutcome.UNREACHABLE,
    "504": CallOutcome.UNREACHABLE,
}
# SIP reason phrases (RFC 3261) of the codes above, shown beside a stored raw_code.
_SIP_TEXT = {
    "486": "Busy Here",
    "600": "Busy Everywhere",
    "408": "Request Timeout",
    "480": "Temporarily Unavailable",
    "487": "Request Terminated (cancelled while ringing)",
    "603": "Decline",
    "404": "Not Found",
    "484": "Address Incomplete",
    "604": "Does Not Exist Anywhere",
    "403": "Forbidden",
    "503": "Service Unavailable",
    "502": "Bad Gateway",
    "504": "Server Time-out",
}


def password_digest(app_secret: str, nonce: str, created: str) -> str:
    """Base64(HMAC-SHA256(app_secret, nonce + created)) of the raw digest."""
    mac = hmac.new(app_secret.encode(), f"{nonce}{created}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def push_digest(app_secret: str, url: str, nonce: str, created: str) -> str:
    """The status-push PasswordDigest: Base64(HMAC-SHA256(secret, url+nonce+created))."""
    mac = hmac.new(app_secret.encode(), f"{url}{nonce}{created}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def aksk_headers(
    app_key: str, app_secret: str, *, nonce: str | None = None, created: str | None = None
) -> dict[str, str]:
    """Authorization and X-AKSK headers for one request (表2)."""
    nonce = nonce or _fresh_nonce()
    created = created or _now_created()
    return _headers(app_key, password_digest(app_secret, nonce, created), nonce, created)


def push_headers(
    app_key: str,
    app_secret: str,
    url: str,
    *,
    nonce: str | None = None,
    created: str | None = None,
) -> dict[str, str]:
    """Authorization and X-AKSK headers a status/fee push to `url` carries.

    The one builder of a push signature: the sandbox signs its pushes with it and
    the tests sign theirs, so both follow `push_digest` and the header layout here.
    """
    nonce = nonce or _fresh_nonce()
    created = created or _now_created()
    return _headers(app_key, push_digest(app_secret, url, nonce, created), nonce, created)


def _fresh_nonce() -> str:
    return secrets.token_hex(16).upper()


def _now_created() -> str:
    return datetime.now(UTC).strftime(CREATED_FORMAT)


def _headers(app_key: str, digest: str, nonce: str, created: str) -> dict[str, str]:
    x_aksk = (
        f'UsernameToken Username="{app_key}",PasswordDigest="{digest}",'
        f'Nonce="{nonce}",Created="{created}"'
    )
    return {"Authorization": AUTHORIZATION, "X-AKSK": x_aksk}


def parse_x_aksk(value: str) -> dict[str, str]:
    """Parse an X-AKSK header into {Username, PasswordDigest, Nonce, Created}.

    Tolerates spaces around commas and '='.  Raises ValueError when the value
    does not start with UsernameToken.
    """
    text = value.strip()
    if not text.startswith("UsernameToken"):
        raise ValueError("X-AKSK must start with UsernameToken")
    return dict(_X_AKSK_PAIR.findall(text[len("UsernameToken") :]))


def x_aksk_summary(value: str) -> str:
    """What may be shown of an X-AKSK: Username and Created, never PasswordDigest
    or Nonce (together they let anyone post another body within the window)."""
    try:
        parts = parse_x_aksk(value)
    except ValueError:
        return f"(not UsernameToken …, {len(value)} characters)"
    shown = [f'{key}="{parts[key]}"' for key in ("Username", "Created") if key in parts]
    hidden = [key for key in ("PasswordDigest", "Nonce") if key in parts]
    return (
        "UsernameToken " + ",".join(shown) + (f" ({', '.join(hidden)} not shown)" if hidden else "")
    )


class HuaweiClient(VendorClient):
    """Client for one huawei voice application (account_id = APP_Key,
    secret = APP_Secret).  extra["push_window_seconds"] bounds push age."""

    code: ClassVar[str] = "huawei"
    label: ClassVar[str] = "Huawei voice verification"
    call_result_codes = {code: (outcome, _SIP_TEXT[code]) for code, outcome in SIP_OUTCOMES.items()}
    callback_kinds: ClassVar[tuple[str, ...]] = ("status", "cdr")
    callback_ack: ClassVar[tuple[str, bytes]] = (
        "application/json",
        b'{"resultcode":"0","resultdesc":"Success"}',  # 表5
    )
    recording_source: ClassVar[str] = "url"  # fee push recordFileDownloadUrl
    supports_voice_codes: ClassVar[bool] = True
    credential_names: ClassVar[tuple[str, str, str]] = ("app_key", "app_secret", "—")
    account_settings: ClassVar[Mapping[str, Setting]] = {
        "push_signature": Setting(
            str,
            "Push signature check: require (default: refuse unsigned, wrong, stale or "
            "replayed pushes with 401), verify (check and record the verdict but accept, "
            "while migrating an account); off is the old name of verify.",
            choices=("require", "verify", "off"),
        ),
        "push_window_seconds": Setting(int, "Allowed skew of a push's Created.", min_value=1),
        "display_number": Setting(str, "Default displayNbr for voice codes."),
    }
    error_map: ClassVar[Mapping[str, ErrorRow]] = ERRORS  # 表6, in huawei_errors.py
    # X-AKSK's PasswordDigest + Nonce let anyone re-post within the window.
    hidden_callback_headers: ClassVar[tuple[str, ...]] = ("Authorization", "X-AKSK")
    callback_headers: ClassVar[tuple[str, ...]] = ("X-AKSK",)

    @classmethod
    def stored_authorization(cls, value: str) -> str:
        if value.startswith("AKSK "):
            return value  # the fixed realm/profile/type: no secret in it
        return super().stored_authorization(value)

    @classmethod
    def shown_callback_text(cls, text: str) -> str:
        # Notes stored before x_aksk_summary existed quote the whole header.
        return _SECRET_PAIRS.sub(r'\1="…"', text)

    def _sign(self) -> Signature:
        return {}, aksk_headers(self.account_id, self._secret)

    def _interpret(self, response: requests.Response) -> Reply:
        # 表5: resultcode "0" is success; resultdesc carries the text.
        return self._json_envelope(
            response, code_field="resultcode", success="0", message_field="resultdesc"
        )

    def call_verify(
        self,
        *,
        display_number: str,
        callee_number: str,
        verify_code: str,
        pre_tone: str,
        language_type: int = 2,
        pos_tone: str = "",
        times: int = 3,
        status_url: str = "",
        fee_url: str = "",
        return_idle_port: bool = False,
        user_data: str = "",
    ) -> VoiceCodeResult:
        """POST /rest/httpsessions/callVerify/v1.0 (表4).  statusUrl/feeUrl
        are sent Base64-encoded as the document requires.  Raises ValueError
        (`call_verify_problem`) before sending anything 表4 refuses."""
        problem = self.call_verify_problem(
            verify_code=verify_code,
            pre_tone=pre_tone,
            pos_tone=pos_tone,
            times=times,
            status_url=status_url,
            fee_url=fee_url,
            user_data=user_data,
        )
        if problem:
            raise ValueError(f"huawei: {problem}")
        body: dict[str, Any] = {
            "displayNbr": display_number,
            "calleeNbr": callee_number,
            "languageType": language_type,
            "preTone": pre_tone,
            "verifyCode": verify_code,
            "times": times,
        }
        if pos_tone:
            body["posTone"] = pos_tone
        for name, url in (("statusUrl", status_url), ("feeUrl", fee_url)):
            if url:
                body[name] = push_url_value(name, url)
        if return_idle_port:
            body["returnIdlePort"] = "true"  # String(枚举) in 表4, not a JSON boolean
        if user_data:
            body["userData"] = user_data
        payload = self._send(
            "POST",
            "/rest/httpsessions/callVerify/v1.0",
            data=_json_bytes(body),
            headers={"Content-Type": "application/json;charset=UTF-8"},
            idempotent=False,
        )
        session_id = str(payload.get("sessionId") or "")
        if not session_id:
            raise ResponseError(self.code, "0", "success answer without sessionId")
        idle = payload.get("idlePort")
        return VoiceCodeResult(
            session_id=session_id,
            idle_ports=idle if isinstance(idle, int) and not isinstance(idle, bool) else None,
            raw=payload,
        )

    @classmethod
    def call_verify_problem(
        cls,
        *,
        verify_code: str = "00",
        pre_tone: str = "x",
        pos_tone: str = "",
        times: int = 3,
        status_url: str = "",
        fee_url: str = "",
        user_data: str = "",
        **_ignored: Any,
    ) -> str:
        """What 表4 refuses in these call_verify arguments, naming the field ("" if
        nothing).  Never quotes verifyCode: it is a secret of its recipient."""
        if not _DIGITS.fullmatch(verify_code or ""):
            return "verifyCode must be 2-8 digits 0-9"
        if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 9:
            return "times must be 0-9 (0 = loop forever)"
        if not pre_tone or len(pre_tone) > 128:
            return "preTone is required, at most 128 characters"
        if len(pos_tone) > 128:
            return "posTone must be at most 128 characters"
        if user_data and (
            len(user_data) > 256 or not user_data.isascii() or "{" in user_data or "}" in user_data
        ):
            return "userData must be at most 256 ASCII characters without braces (Base64 it)"
        for name, url in (("statusUrl", status_url), ("feeUrl", fee_url)):
            try:
                if url:
                    push_url_value(name, url)
            except ValueError as exc:
                return str(exc).removeprefix("huawei: ")
        return ""

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
        """Verify a push's X-AKSK: Username, Nonce shape, Created freshness,
        PasswordDigest over url + Nonce + Created.  Nonce reuse is the caller's
        check (`callback_nonce`)."""
        value = header(headers, "X-AKSK")
        if not value:
            raise CallbackAuthError(
                "missing X-AKSK header",
                expected='X-AKSK: UsernameToken Username="…",PasswordDigest="…",…',
            )
        received = x_aksk_summary(value)
        parts = self._push_parts(value, received)
        self._check_created(parts["Created"], now, received)
        computed = push_digest(self._secret, url, parts["Nonce"], parts["Created"])
        if not hmac.compare_digest(computed.encode(), parts["PasswordDigest"].encode()):
            raise CallbackAuthError(
                "PasswordDigest did not match",
                expected=(
                    f"PasswordDigest computed over URL {url} + nonce + created "
                    "with this account's app_secret"
                ),
                received=received,
            )

    def _push_parts(self, value: str, received: str) -> dict[str, str]:
        """The X-AKSK's fields, each present and well-formed for this account."""
        try:
            parts = parse_x_aksk(value)
        except ValueError as exc:
            raise CallbackAuthError(
                str(exc), expected="UsernameToken …", received=received
            ) from None
        missing = [k for k in _X_AKSK_KEYS if not parts.get(k)]
        if missing:
            raise CallbackAuthError(
                f"X-AKSK lacks {', '.join(missing)}",
                expected="Username, PasswordDigest, Nonce and Created",
                received=received,
            )
        if parts["Username"] != self.account_id:
            raise CallbackAuthError(
                "X-AKSK Username is not this account's app_key",
                expected=f"Username={self.account_id}",
                received=received,
            )
        if not _NONCE.fullmatch(parts["Nonce"]):
            raise CallbackAuthError(
                "X-AKSK Nonce is not 1-128 letters and digits",
                expected="Nonce of 1-128 letters and digits",
                received=received,
            )
        return parts

    def _check_created(self, value: str, now: datetime | None, received: str) -> None:
        """Created must be a UTC time within the account's push window of `now`."""
        window = self._push_window()
        created = _created(value)
        if created is None:
            raise CallbackAuthError(
                "X-AKSK Created is not a UTC time",
                expected="Created in %Y-%m-%dT%H:%M:%SZ",
                received=received,
            )
        age = abs((aware(now) - created).total_seconds())
        if age > window:
            raise CallbackAuthError(
                f"X-AKSK Created is {int(age)} s away from now",
                expected=f"Created within {window} s of now",
                received=received,
            )

    def callback_nonce(self, kind: str, *, headers: Mapping[str, str]) -> CallbackNonce | None:
        """The push's Nonce, single-use until Created + window (when the
        header goes stale by itself).  None when the X-AKSK is unusable."""
        try:
            parts = parse_x_aksk(header(headers, "X-AKSK"))
        except ValueError:
            return None
        nonce = parts.get("Nonce", "")
        created = _created(parts.get("Created", ""))
        if not _NONCE.fullmatch(nonce) or created is None:
            return None
        return CallbackNonce(nonce, created + timedelta(seconds=self._push_window()))

    def callback_signature_mode(self) -> str:
        # The push section requires X-AKSK (DESIGN.md); an account may opt into
        # "verify" while it migrates.  "off" once skipped the check; it now means
        # "verify": the verdict is always recorded.
        mode = str(self.extra.get("push_signature") or "require")
        return "verify" if mode in ("verify", "off") else "require"

    def _push_window(self) -> int:
        try:
            return max(int(self.extra.get("push_window_seconds", DEFAULT_PUSH_WINDOW)), 1)
        except (TypeError, ValueError):
            return DEFAULT_PUSH_WINDOW

    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        fields = decode_body(body, content_type)
        event = get_str(fields, "eventType", required=True)
        if event == "fee":
            items = fields.get("feeLst")
            if not isinstance(items, list) or not items:
                raise InvalidPayload("fee push without a non-empty feeLst list")
            records: list[CallRecordData | CallEventData] = []
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise InvalidPayload(f"feeLst[{index}] is not an object")
                records.append(self._fee(item))
            return records
        if event in _EVENT_KINDS:
            return [self._status(event, get_dict(fields, "statusInfo"))]
        raise InvalidPayload(f"unknown eventType {event!r}")

    def _status(self, event: str, info: dict[str, Any]) -> CallEventData:
        occurred = _push_time(info, "timestamp")
        if occurred is None:
            raise InvalidPayload("missing required field 'timestamp'")
        code = info.get("stateCode")
        return CallEventData(
            vendor=self.code,
            call_id=get_str(info, "sessionId", required=True),
            kind=event,
            occurred_at=occurred,
            caller=get_str(info, "caller"),
            callee=get_str(info, "called"),
            user_data=get_str(info, "userData"),
            state_code="" if code is None else str(get_int(info, "stateCode")),
            state_text=get_str(info, "stateDesc"),
            raw=info,
        )

    def _fee(self, item: dict[str, Any]) -> CallRecordData:
        start = _push_time(item, "fwdStartTime")
        alerting = _push_time(item, "fwdAlertingTime")
        answer = _push_time(item, "fwdAnswerTime")
        end = _push_time(item, "callEndTime")
        sip = get_str(item, "sipStatusCode")
        if answer is not None:
            outcome = CallOutcome.ANSWERED
        elif sip in SIP_OUTCOMES:
            outcome = SIP_OUTCOMES[sip]
        else:
            outcome = CallOutcome.NO_ANSWER if alerting else CallOutcome.FAILED
        duration = int((end - answer).total_seconds()) if answer and end else 0
        return CallRecordData(
            vendor=self.code,
            call_id=get_str(item, "sessionId", required=True),
            vendor_binding_id="",
            caller=get_str(item, "callerNum"),
            callee=get_str(item, "calleeNum"),
            x_number="",
            outcome=outcome,
            raw_code=get_str(item, "fwdUnaswRsn") or sip,
            raw_text=get_str(item, "ulFailReason"),
            begin_at=start,
            ring_at=alerting,
            answer_at=answer,
            release_at=end,
            duration=max(duration, 0),
            release_side="",
            user_data=get_str(item, "userData"),
            recording_url=get_str(item, "recordFileDownloadUrl"),
            raw=item,
        )


def push_url_value(name: str, url: str) -> str:
    """statusUrl/feeUrl as sent (表4): Base64 of an http(s) URL made only of
    letters, digits, "-", ":", "." and "/", the encoded value 1-128 characters.
    Raises ValueError naming the field, before anything is sent."""
    if not url.startswith(("http://", "https://")) or not URL_CHARS.fullmatch(url):
        raise ValueError(
            f"huawei: {name} must be an http(s) URL of letters, digits, '-', ':', '.' "
            "and '/' only (表4)"
        )
    encoded = _b64(url)
    if len(encoded) > MAX_PUSH_URL:
        raise ValueError(
            f"huawei: {name} is {len(encoded)} characters once Base64-encoded; 表4 allows "
            f"{MAX_PUSH_URL} (a URL of at most {MAX_PUSH_URL // 4 * 3} characters)"
        )
    return encoded


def _created(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, CREATED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _push_time(fields: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(get_str(fields, key), _PUSH_TIME, UTC, key=key)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
