"""The common base of every vendor client: signed HTTP with timeouts, bounded
retries, one log line per attempt, table-driven error mapping, and the
abstract inbound-callback API.

Adding a vendor: ADDING_VENDORS.md is the checklist.  In short: subclass
`VendorClient`, describe the vendor with the class attributes below, implement
`_sign`, `_interpret`, `authenticate_callback` and `_parse_callback`, write its
sandbox module, and add one line to `vendors.REGISTRY`.

Credentials arrive as constructor arguments (never from settings: this package
must not import Django), and so does the `session` every request goes through:
the console passes one guarded by the outbound host policy (vendors/outbound.py).
`secret` is never logged, never put in `repr`, and never copied into a result's
`raw`.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlsplit

import requests

from . import transport
from .account_settings import Setting
from .binding_kinds import BindingKindSpec
from .errors import (
    AuthError,
    Conflict,
    InvalidPayload,
    NotFound,
    PermissionDenied,
    RateLimited,
    ResponseError,
    TemporaryError,
    VendorError,
)
from .outbound import Refused
from .times import EARLIEST_CALL_TIME, MAX_CLOCK_AHEAD, check_times
from .transport import RetryPolicy, describe_answer
from .types import (
    AccountStatus,
    CallbackNonce,
    CallEventData,
    CallOutcome,
    CallRecordData,
    RecordingInfo,
)

__all__ = [
    "EARLIEST_CALL_TIME",
    "MAX_CLOCK_AHEAD",
    "ErrorRow",
    "Reply",
    "RetryPolicy",
    "Signature",
    "VendorClient",
    "check_times",
    "describe_answer",
    "logger",
]

logger = logging.getLogger("vendors")

# (query parameters, headers) that authenticate one attempt.
Signature = tuple[dict[str, str], dict[str, str]]

# A row of a vendor's error table: (exception class, English gloss) or
# (class, gloss, advice) or (class, gloss, advice, vendor's original text).
ErrorRow = (
    tuple[type[VendorError], str]
    | tuple[type[VendorError], str, str]
    | tuple[type[VendorError], str, str, str]
)


class Reply(NamedTuple):
    """What `_interpret` makes of one HTTP response."""

    payload: Any
    vendor_code: str = ""
    error: VendorError | None = None


_HTTP_FALLBACK: dict[int, type[VendorError]] = {
    401: AuthError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


class VendorClient(abc.ABC):
    """Base class of the per-vendor clients.

    Subclasses must set:
      code            the vendor code ("igw"), used in logs and errors;
      callback_kinds  the callback kinds parse_callback accepts;
      error_map       vendor code -> ErrorRow.  A key "<http status>/<code>"
                      wins over "<code>" for vendors (huawei) that reuse a code
                      under several HTTP statuses;
    may set `hidden_callback_headers` and override `shown_callback_text` and
    `callback_nonce`;
    and implement `_sign`, `_interpret`, `authenticate_callback`,
    `_parse_callback`.

    Everything else the console knows about a vendor is a class attribute here,
    so the Django apps never name a vendor code (defaults in brackets):
      label             the vendor's name in choices and pages;
      callback_ack      (content type, body) answering an accepted callback
                        [JSON `{}`];
      recording_source  "url": the CDR carries a download link; "api": fetched
                        by `fetch_recording(call_identifier=...)` for answered
                        calls ["url"];
      supports_account_status  `account_status` asks the vendor (the console
                        offers "Check status at the vendor") [False];
      supports_sub_accounts    `create_sub_account`, `query_sub_accounts`
                        (paged) and `query_sub_account_by_name` exist [False];
      supports_sms, supports_voice_codes  what else the vendor offers [False];
      supports_two_way_calls   `two_way_call` exists (signed with a
                        sub-account) [False]; with supports_voice_codes,
                        `call_verify`; each send method has a classmethod
                        `<method>_problem(**same kwargs) -> str` that the
                        console runs before queueing ("" = acceptable);
      sms_max_recipients  numbers one SMS request may carry; the console splits
                        a larger send into requests of at most this many [1];
      binding_kinds     privacy binding kinds the vendor offers, as specs
                        (vendors.binding_kinds.BindingKindSpec) [()];
      account_settings  keys of the account's `extra` the client reads, with
                        their checks (vendors.account_settings.Setting) [{}];
      sandbox_module    dotted path of the sandbox's emulation of the vendor
                        ["sandbox.<code>"];
      credential_names  what the vendor calls account_id, secret and app_id;
      callback_headers  signature headers the inbox keeps for replays, and
                        `stored_authorization` how it keeps Authorization;
    and `callback_signature_mode` says how strictly the signature is enforced.
    """

    code: ClassVar[str]
    label: ClassVar[str] = ""
    callback_kinds: ClassVar[tuple[str, ...]]
    error_map: ClassVar[Mapping[str, ErrorRow]] = {}
    callback_ack: ClassVar[tuple[str, bytes]] = ("application/json", b"{}")
    recording_source: ClassVar[str] = "url"
    supports_account_status: ClassVar[bool] = False
    supports_sub_accounts: ClassVar[bool] = False
    supports_sms: ClassVar[bool] = False
    sms_max_recipients: ClassVar[int] = 1
    supports_voice_codes: ClassVar[bool] = False
    supports_two_way_calls: ClassVar[bool] = False
    binding_kinds: ClassVar[tuple[BindingKindSpec, ...]] = ()
    account_settings: ClassVar[Mapping[str, Setting]] = {}
    sandbox_module: ClassVar[str] = ""
    # The vendor's own names for account_id, secret and app_id ("—": unused).
    credential_names: ClassVar[tuple[str, str, str]] = ("account ID", "secret", "app ID")
    # Callback headers a page never shows: they authenticate a delivery, and some
    # embed a credential (ccp, cyj) or a reusable signature (huawei).
    hidden_callback_headers: ClassVar[tuple[str, ...]] = ("Authorization",)
    # Headers authenticate_callback reads besides Authorization: the inbox keeps
    # them (whole) so a replay can re-check the signature.
    callback_headers: ClassVar[tuple[str, ...]] = ()
    # The call result codes a CDR carries (stored as CallRecord.raw_code): code ->
    # (the outcome we map it to, its meaning as the vendor's document gives it).
    # Pages show the meaning beside the code; the generator draws realistic codes.
    call_result_codes: ClassVar[Mapping[str, tuple[CallOutcome, str]]] = {}

    def __init__(
        self,
        *,
        base_url: str,
        account_id: str,
        secret: str,
        app_id: str = "",
        extra: dict[str, Any] | None = None,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise ValueError(f"{self.code}: base_url is required")
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self._secret = secret
        self.app_id = app_id
        self.extra: dict[str, Any] = dict(extra or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        # Replaceable so tests can run retries without sleeping.
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"<{name} {self.code} account={self.account_id!r} base_url={self.base_url!r}>"

    # ------------------------------------------------------------------ outbound

    @abc.abstractmethod
    def _sign(self) -> Signature:
        """Return the query parameters and headers that authenticate one
        attempt with the account's own credentials.  Called again for every
        retry so timestamps are fresh."""

    @abc.abstractmethod
    def _interpret(self, response: requests.Response) -> Reply:
        """Decode a response: return Reply(payload, vendor_code, error).

        Set `error` (built with `_error`) when the vendor reports a failure;
        raise ResponseError when a 2xx body cannot be understood.  Must not
        raise for a non-2xx status: use `_http_error` for those."""

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | str | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        signer: Callable[[], Signature] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one logical request, retrying transient failures.

        `signer` defaults to `_sign`; it runs once per attempt.  Everything
        else (including an idempotency key in `data`) is identical on every
        attempt.  With idempotent=False (no idempotency key exists: an SMS, a
        call) read timeouts, resets and bare HTTP 5xx are NOT retried, since
        the vendor may have acted and a retry could double it; connection
        failures before sending and documented retryable vendor codes still
        are.  Returns the payload of a successful Reply; raises VendorError.
        """
        sign = signer or self._sign
        url = self.base_url + path
        log_path = urlsplit(url).path  # never the query: ccp/cyj put sig there
        number = 0
        while True:
            number += 1
            sig_params, sig_headers = sign()
            attempt = self._attempt(
                method,
                url,
                params={**(params or {}), **sig_params},
                data=data,
                headers={**(headers or {}), **sig_headers},
            )
            transport.log_attempt(self.code, method, log_path, attempt, number)
            if attempt.error is None:
                return attempt.payload
            retry = attempt.error.retryable
            if retry and not idempotent:
                # Without an idempotency key, only retry what provably did not
                # act: nothing sent, or a documented "try again" vendor code.
                retry = attempt.never_sent or self._documented(attempt.error)
            if not retry or number >= self.retry.max_attempts:
                raise attempt.error
            self._sleep(self.retry.delay(number, attempt.retry_after))

    def _attempt(
        self, method: str, url: str, *, params: dict, data: Any, headers: dict
    ) -> transport.Attempt:
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                params=params or None,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (Refused, requests.RequestException) as exc:
            return transport.request_error(self.code, exc, started)
        try:
            reply = self._interpret(response)
        except VendorError as exc:
            reply = Reply(None, exc.code, exc)
        return transport.Attempt(
            started,
            payload=reply.payload if reply.error is None else None,
            error=reply.error,
            http_status=response.status_code,
            vendor_code=reply.vendor_code,
            retry_after=transport.retry_after(response),
        )

    def _error(
        self, code: str, message: str = "", *, http_status: int | None = None
    ) -> VendorError:
        """Build the exception for a vendor result code from `error_map`;
        unknown codes fall back on the HTTP status, then on VendorError."""
        row = None
        if http_status is not None:
            row = self.error_map.get(f"{http_status}/{code}")
        if row is None:
            row = self.error_map.get(code)
        if row is None:
            cls = _HTTP_FALLBACK.get(http_status or 0)
            if cls is None:
                cls = TemporaryError if (http_status or 0) >= 500 else VendorError
            return cls(self.code, code, message, http_status=http_status)
        cls, gloss = row[0], row[1]
        advice = row[2] if len(row) > 2 else ""
        original = row[3] if len(row) > 3 else ""
        return cls(
            self.code,
            code,
            message or original or gloss,
            message_en=gloss,
            advice=advice,
            http_status=http_status,
        )

    def _documented(self, error: VendorError) -> bool:
        """Whether `error` came from a row of the vendor's own table."""
        keyed = f"{error.http_status}/{error.code}"
        return keyed in self.error_map or error.code in self.error_map

    def _json_envelope(
        self, response: requests.Response, *, code_field: str, success: str, message_field: str
    ) -> Reply:
        """Interpret the JSON answer shape igw, huawei and cyj share: a result-code
        field (`success` on success) beside a text field.  A 2xx without the code
        field is unparseable; a non-2xx without it is an HTTP error."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or payload.get(code_field) is None:
            if response.ok:
                raise self._unexpected(response)
            return Reply(payload, "", self._http_error(response))
        code = str(payload[code_field])
        if code == success and response.ok:
            return Reply(payload, code)
        message = str(payload.get(message_field) or "")
        return Reply(payload, code, self._error(code, message, http_status=response.status_code))

    def _http_error(
        self, response: requests.Response, code: str = "", message: str = ""
    ) -> VendorError:
        """Error for a non-2xx answer that carries no usable vendor code.

        Without `message`, the answer is described, never quoted: whatever sits
        at a misconfigured base_url must not reach the pages that show errors."""
        text = message or self._describe(response)
        return self._error(
            code or str(response.status_code), text, http_status=response.status_code
        )

    def _json(self, response: requests.Response) -> Any:
        """Decode a JSON body or raise ResponseError (which is not retried)."""
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(response) from None

    def _unexpected(self, response: requests.Response) -> ResponseError:
        """ResponseError for a 2xx answer that is not the vendor's documented envelope."""
        return ResponseError(
            self.code, "unparseable", self._describe(response), http_status=response.status_code
        )

    def _describe(self, response: requests.Response) -> str:
        """describe_answer, with the body itself logged at DEBUG only (truncated)."""
        logger.debug(
            "%s unexpected answer body (first %d bytes): %r",
            self.code,
            _LOGGED_BODY_BYTES,
            response.content[:_LOGGED_BODY_BYTES],
        )
        return describe_answer(response)

    def account_status(self) -> AccountStatus:
        """The account's state and balance, for vendors that publish them.

        Subclasses with a status API override this and set supports_account_status;
        the others raise NotImplementedError, shown as "not offered by the vendor".
        """
        raise NotImplementedError(f"{self.code} has no account-status API")

    def fetch_recording(self, *, call_identifier: str) -> RecordingInfo:
        """Where the recording of a call is, for vendors whose CDRs carry no link
        (recording_source "api")."""
        raise NotImplementedError(f"{self.code} has no recording API")

    @classmethod
    def sandbox_module_name(cls) -> str:
        """The module emulating this vendor in the sandbox (see sandbox/protocol.py)."""
        return cls.sandbox_module or f"sandbox.{cls.code}"

    # ------------------------------------------------------------------ inbound

    @abc.abstractmethod
    def authenticate_callback(
        self,
        kind: str,
        *,
        headers: Mapping[str, str],
        body: bytes,
        url: str,
        now: datetime | None = None,
    ) -> None:
        """Verify that a callback really comes from the vendor.

        `headers` lookups must be case-insensitive (pass Django's
        request.headers).  `url` is the full URL the vendor posted to.
        Raise CallbackAuthError naming what did not match; return None if
        the delivery is authentic."""

    @classmethod
    def stored_authorization(cls, value: str) -> str:
        """A callback's Authorization header as the inbox keeps it.  Default: a
        placeholder, since most embed a credential; override for a value that
        holds no secret.  (A replay cannot re-check a redacted one.)"""
        return f"[redacted: {len(value)} chars]"

    @classmethod
    def shown_callback_text(cls, text: str) -> str:
        """`text` (an authentication note kept on a delivery) as a page may show it.
        Subclasses whose notes can quote a reusable signature redact it here."""
        return text

    def callback_signature_mode(self) -> str:
        """How the callbacks app enforces `authenticate_callback` for this account:
        "require" (refuse what fails) or "verify" (record the verdict, accept).
        Vendors whose accounts may choose override this (huawei)."""
        return "require"

    def callback_nonce(self, kind: str, *, headers: Mapping[str, str]) -> CallbackNonce | None:
        """The single-use value of an authenticated callback, if the vendor signs one.

        Vendors whose signature covers a nonce but not the body (huawei) override
        this so the caller can refuse a second use of the same nonce while the
        signature is still fresh.  Only meaningful after `authenticate_callback`
        accepted the same headers.  Default: no nonce.
        """
        return None

    def parse_callback(
        self, kind: str, *, body: bytes, content_type: str, now: datetime | None = None
    ) -> list[CallRecordData | CallEventData]:
        """Normalize one callback delivery into records/events.

        Raises InvalidPayload and nothing else: malformed input is expected
        (and fuzzed), and the callbacks app keeps the raw row with our message.
        Every time in the result lies between EARLIEST_CALL_TIME and `now` (the
        delivery's arrival, default the current time) + MAX_CLOCK_AHEAD.
        Subclasses implement `_parse_callback`; anything it raises by mistake
        on hostile input is converted here rather than becoming a 500.
        """
        if kind not in self.callback_kinds:
            raise InvalidPayload(
                f"{self.code}: unknown callback kind {kind!r}; "
                f"expected one of {', '.join(self.callback_kinds)}"
            )
        if not isinstance(body, bytes | bytearray):
            raise InvalidPayload(f"{self.code}: body must be bytes, got {type(body).__name__}")
        try:
            items = self._parse_callback(kind, bytes(body), content_type or "")
        except InvalidPayload:
            raise
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as exc:
            raise InvalidPayload(
                f"{self.code} {kind}: malformed payload ({type(exc).__name__}: {exc})"
            ) from exc
        check_times(items, now=now, where=f"{self.code} {kind}")
        return items

    @abc.abstractmethod
    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        """Subclasses must parse `body` for `kind` (already validated) and
        raise InvalidPayload with a clear message on malformed input."""


_LOGGED_BODY_BYTES = 500
