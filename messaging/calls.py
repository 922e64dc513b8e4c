"""Two-way calls and voice verification codes: create (web: validate, limits, idempotent
pending row, task on commit) and send (worker: the vendor call), one function per use
case. The shared life of a send is messaging.sending's; here is what each kind adds.

Two-way call: the vendor's `two_way_call`, signed with a sub-account of the account
(messaging.selectors.sub_accounts_for_calls) whose token is decrypted only in the
worker. Voice code: the vendor's `call_verify`, with statusUrl/feeUrl = this account's
callback URLs, so the status and fee pushes come back to /callbacks/ and attach by
sessionId. The code is its recipient's secret: stored encrypted until the vendor call,
then cleared (sent or failed), never logged, never shown (pages and API say `****`);
its request fingerprint holds an HMAC of it, not the code.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

import vendors
from accounts.models import SubAccount, VendorAccount
from accounts.selectors import webhook_urls
from core.phones import national_number, normalize_into
from messaging import limits, selectors, sending
from messaging.models import SendState, TwoWayCall, VoiceCode
from vendors import errors as e

TWO_WAY_CALL = sending.SendKind(
    model=TwoWayCall,
    capability="supports_two_way_calls",
    task_name="messaging.tasks.two_way_call_send",
    label="two-way calls",
)
VOICE_CODE = sending.SendKind(
    model=VoiceCode,
    capability="supports_voice_codes",
    task_name="messaging.tasks.voice_code_send",
    label="voice verification codes",
)

# two_way_call's optional keyword args (the vendor documents their names and rules).
TWO_WAY_OPTIONS = (
    "customer_ser_num",
    "from_ser_num",
    "prompt_tone",
    "always_play",
    "terminal_dtmf",
    "user_data",
    "max_call_time",
    "need_both_cdr",
    "need_record",
    "count_down_time",
    "count_down_prompt",
)
_DISPLAY_OPTIONS = ("customer_ser_num", "from_ser_num")
MASK = "****"
DEFAULT_TIMES = 3


def _client_class(account: VendorAccount) -> type[vendors.VendorClient]:
    return vendors.REGISTRY[account.vendor]


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# --------------------------------------------------------------------- two-way calls


def _two_way_options(options: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """The given options, display numbers normalized (stored E.164, sent national)."""
    unknown = sorted(set(options) - set(TWO_WAY_OPTIONS))
    if unknown:
        errors.setdefault("options", []).append(f"Unknown option {unknown[0]}.")
    kept = {k: v for k, v in options.items() if k in TWO_WAY_OPTIONS and v not in (None, "")}
    for name in _DISPLAY_OPTIONS:
        if name in kept:
            kept[name] = normalize_into(str(kept[name]), field=name, errors=errors)
    return kept


def _vendor_options(options: dict[str, Any]) -> dict[str, Any]:
    """Stored options as two_way_call takes them: display numbers in national form."""
    return {
        k: national_number(v) if k in _DISPLAY_OPTIONS else v
        for k, v in options.items()
        if k in TWO_WAY_OPTIONS
    }


def two_way_call_create(
    *,
    vendor_account: VendorAccount,
    from_number: str,
    to_number: str,
    sub_account: SubAccount | None = None,
    options: dict[str, Any] | None = None,
    created_by=None,
    idempotency_key: str = "",
) -> tuple[TwoWayCall, bool]:
    """A pending two-way call and its send task: (row, created). Raises ValidationError
    (field errors), limits.RateLimitExceeded or core.idempotency.IdempotencyConflict;
    nothing is written or sent then."""
    sending.check_account(vendor_account, TWO_WAY_CALL)
    errors: dict[str, list[str]] = {}
    caller = normalize_into(from_number, field="from_number", errors=errors)
    callee = normalize_into(to_number, field="to_number", errors=errors)
    kept = _two_way_options(dict(options or {}), errors)
    _raise(errors)
    problem = _client_class(vendor_account).two_way_call_problem(**_vendor_options(kept))
    if problem:
        raise ValidationError({"options": [problem]})
    try:
        sub = selectors.sub_account_for_call(
            account=vendor_account, sub_account_id=sub_account.pk if sub_account else None
        )
    except SubAccount.DoesNotExist:
        raise ValidationError(
            {"sub_account": f"{vendor_account.name} has no usable sub-account to sign the call."}
        ) from None
    request = {
        "vendor_account": vendor_account.pk,
        "sub_account": sub.pk,
        "from": caller,
        "to": callee,
        "options": kept,
    }

    def insert(common: dict[str, Any]) -> TwoWayCall:
        return TwoWayCall.objects.create(
            **common, sub_account=sub, from_number=caller, to_number=callee, options=kept
        )

    return sending.create_send(
        kind=TWO_WAY_CALL,
        account=vendor_account,
        request=request,
        created_by=created_by,
        idempotency_key=idempotency_key,
        insert=insert,
    )


def two_way_call_send(*, pk: int, final_attempt: bool = False) -> None:
    """Worker: ask the vendor to start the call, signed with the row's sub-account."""

    def call(client, row: TwoWayCall) -> dict[str, Any]:
        sub = row.sub_account
        if sub is None or not sub.sub_account_sid:
            raise e.InvalidRequest(client.code, "", "the call's sub-account has no sid")
        result = _checked(
            client.two_way_call,
            sub_account_sid=sub.sub_account_sid,
            sub_token=sub.sub_token,  # decrypted here, in the worker, only
            from_number=national_number(row.from_number),
            to_number=national_number(row.to_number),
            **_vendor_options(row.options),
        )
        return {"call_sid": result.call_sid, "vendor_created_at": result.created_at}

    sending.run_single(TWO_WAY_CALL, pk, call, final_attempt=final_attempt)


def _checked(method, **kwargs):
    """A client's ValueError (its own check before sending) as the vendor's
    InvalidRequest, so the row fails with the text instead of the task crashing."""
    try:
        return method(**kwargs)
    except ValueError as exc:
        vendor = getattr(method.__self__, "code", "")
        raise e.InvalidRequest(vendor, "", str(exc), message_en=str(exc)) from None


# --------------------------------------------------------------------- voice codes

# The documented field a vendor check names -> our field.
_VOICE_FIELDS = {
    "verifyCode": "verify_code",
    "times": "times",
    "preTone": "pre_tone",
    "posTone": "pos_tone",
    "userData": "user_data",
    "statusUrl": "vendor_account",
    "feeUrl": "vendor_account",
}


def default_display_number(account: VendorAccount) -> str:
    """The account's display_number setting, when its vendor declares one."""
    if "display_number" not in getattr(_client_class(account), "account_settings", {}):
        return ""
    return str(account.extra.get("display_number") or "")


def push_urls(account: VendorAccount) -> dict[str, str]:
    """Where the vendor pushes a voice code's status events and its fee record: this
    account's callback URLs of the kinds "status" and "cdr"."""
    urls = webhook_urls(account=account)
    return {"status_url": urls.get("status", ""), "fee_url": urls.get("cdr", "")}


def _code_digest(account: VendorAccount, callee: str, code: str) -> str:
    """What the request fingerprint holds instead of the code: an HMAC under the
    server's key (a plain hash of at most 8 digits is reversed in seconds)."""
    message = f"{account.pk}:{callee}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _voice_problem(account: VendorAccount, fields: dict[str, Any]) -> None:
    problem = _client_class(account).call_verify_problem(**fields, **push_urls(account))
    if not problem:
        return
    field = next((ours for theirs, ours in _VOICE_FIELDS.items() if theirs in problem), None)
    if field == "vendor_account":
        problem = f"This account's callback URL cannot be given to the vendor: {problem}"
    raise ValidationError({field or "__all__": [problem]})


def voice_code_create(
    *,
    vendor_account: VendorAccount,
    callee_number: str,
    verify_code: str,
    pre_tone: str,
    display_number: str = "",
    language_type: int = 2,
    pos_tone: str = "",
    times: int | None = None,
    user_data: str = "",
    created_by=None,
    idempotency_key: str = "",
) -> tuple[VoiceCode, bool]:
    """A pending voice code and its send task: (row, created). Counts against the
    account's limits and the per-recipient hourly cap. Raises ValidationError,
    limits.RateLimitExceeded or core.idempotency.IdempotencyConflict."""
    sending.check_account(vendor_account, VOICE_CODE)
    errors: dict[str, list[str]] = {}
    callee = normalize_into(callee_number, field="callee_number", errors=errors)
    display_raw = display_number or default_display_number(vendor_account)
    if not display_raw:
        errors.setdefault("display_number", []).append(
            "Give a display number (the account has no display_number setting)."
        )
    display = (
        normalize_into(display_raw, field="display_number", errors=errors) if display_raw else ""
    )
    _raise(errors)
    times = DEFAULT_TIMES if times is None else times
    fields = {
        "verify_code": verify_code,
        "pre_tone": pre_tone,
        "pos_tone": pos_tone,
        "times": times,
        "user_data": user_data,
    }
    _voice_problem(vendor_account, fields)
    request = {
        "vendor_account": vendor_account.pk,
        "callee": callee,
        "display": display,
        "code": _code_digest(vendor_account, callee, verify_code),
        "language_type": language_type,
        "pre_tone": pre_tone,
        "pos_tone": pos_tone,
        "times": times,
        "user_data": user_data,
    }

    def insert(common: dict[str, Any]) -> VoiceCode:
        return VoiceCode.objects.create(
            **common,
            callee_number=callee,
            display_number=display,
            code=verify_code,
            code_length=len(verify_code),
            language_type=language_type,
            pre_tone=pre_tone,
            pos_tone=pos_tone,
            times=times,
            user_data=user_data,
        )

    return sending.create_send(
        kind=VOICE_CODE,
        account=vendor_account,
        request=request,
        created_by=created_by,
        idempotency_key=idempotency_key,
        insert=insert,
        # Against call pumping: at most N codes an hour to one number (SendPolicy),
        # checked with the account's limits, all or nothing.
        extra_limits=[limits.recipient_limit(vendor_account, callee)],
    )


def voice_code_send(*, pk: int, final_attempt: bool = False) -> None:
    """Worker: ask the vendor to call and read the code; then forget the code."""

    def call(client, row: VoiceCode) -> dict[str, Any]:
        if not row.code:
            raise e.InvalidRequest(client.code, "", "the code was already cleared")
        result = _checked(
            client.call_verify,
            display_number=row.display_number,
            callee_number=row.callee_number,
            verify_code=row.code,
            pre_tone=row.pre_tone,
            language_type=row.language_type,
            pos_tone=row.pos_tone,
            times=DEFAULT_TIMES if row.times is None else row.times,
            user_data=row.user_data,
            **push_urls(row.vendor_account),
        )
        return {"session_id": result.session_id, "code": ""}

    try:
        sending.run_single(VOICE_CODE, pk, call, final_attempt=final_attempt)
    finally:
        # Sent or failed, the code is no longer needed: only a pending row (a "try
        # again" answer, retried later) keeps it.
        VoiceCode.objects.filter(pk=pk).exclude(state=SendState.PENDING).exclude(code="").update(
            code=""
        )
