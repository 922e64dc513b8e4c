"""ccp's data tables, kept out of vendors/ccp.py so the client reads in one pass:
the error table (the client's `error_map`), Hangup byetype meanings, the call
event actions, and the SDK's optional CallBack fields with their rules (one
table for the client and the sandbox).  The readings are explained in
vendors/ccp.py's docstring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import ErrorRow
from .errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NetworkError,
    NotFound,
    PermissionDenied,
)
from .types import CallOutcome

# The guide's SMS application-state rules (§2.5.2 说明), as the glosses of their codes.
_NOT_ONLINE_RULE = (
    "Application not online (unpublished, offline, in review or rejected): "
    "SMS only to the account's registered numbers (guide 2.5.2)"
)
_DISABLED_RULE = "Application disabled or deleted: it sends no SMS (guide 2.5.2)"

# Hangup byetype -> (outcome, release side).  OUR CHOICE (see docstring).
BYETYPE: dict[str, tuple[CallOutcome, str]] = {
    "1": (CallOutcome.ANSWERED, "caller"),  # caller hung up after talking
    "2": (CallOutcome.ANSWERED, "callee"),
    "3": (CallOutcome.ANSWERED, "platform"),  # max call time reached / platform release
    "-1": (CallOutcome.NO_ANSWER, ""),
    "-2": (CallOutcome.BUSY, ""),
    "-3": (CallOutcome.REJECTED, ""),
    "-4": (CallOutcome.UNREACHABLE, ""),
    "-5": (CallOutcome.INVALID_NUMBER, ""),
    "-6": (CallOutcome.FAILED, ""),
}
# byetype meanings as pages show them beside the code (the document's wording, in English).
BYETYPE_TEXT = {
    "1": "caller hung up",
    "2": "callee hung up",
    "3": "released by the platform (maximum call time)",
    "-1": "no answer",
    "-2": "busy",
    "-3": "rejected",
    "-4": "unreachable",
    "-5": "invalid number",
    "-6": "call failed",
}

# Call event actions posted besides Hangup -> normalized event kind (see docstring).
CALL_EVENT_ACTIONS: dict[str, str] = {"callauth": "call_start", "callestablish": "answer"}

_NUMBER = re.compile(r"\+?[0-9]{5,20}")
_WAV = re.compile(r"[A-Za-z0-9_\-./]{1,128}\.wav")
_SECONDS = re.compile(r"[1-9][0-9]{0,5}")  # 1 s to about 11 days

# The SDK's optional CallBack fields: two_way_call keyword -> (documented name,
# rule).  OUR reading of the SDK's comments (see docstring); one table for the
# client and the sandbox.
CALLBACK_FIELDS: dict[str, tuple[str, str]] = {
    "customer_ser_num": ("customerSerNum", "number"),
    "from_ser_num": ("fromSerNum", "number"),
    "prompt_tone": ("promptTone", "wav"),
    "always_play": ("alwaysPlay", "truefalse"),
    "terminal_dtmf": ("terminalDtmf", "dtmf"),
    "user_data": ("userData", "userdata"),
    "max_call_time": ("maxCallTime", "seconds"),
    "hangup_cdr_url": ("hangupCdrUrl", "url"),
    "need_both_cdr": ("needBothCdr", "01"),
    "need_record": ("needRecord", "01"),
    "count_down_time": ("countDownTime", "seconds"),
    "count_down_prompt": ("countDownPrompt", "wav"),
}
_RULES: dict[str, tuple[Any, str]] = {
    "number": (_NUMBER.fullmatch, "a phone number (5-20 digits, optional +)"),
    "wav": (_WAV.fullmatch, "a .wav file name of at most 128 characters"),
    "truefalse": (lambda v: v in ("true", "false"), '"true" or "false"'),
    "dtmf": (lambda v: len(v) == 1 and v in "0123456789*#", "one key of 0-9, * or #"),
    "userdata": (lambda v: len(v) <= 256 and v.isascii(), "at most 256 ASCII characters"),
    "seconds": (_SECONDS.fullmatch, "whole seconds, 1 to 999999"),
    "url": (
        lambda v: len(v) <= 256 and v.startswith(("http://", "https://")) and " " not in v,
        "an http(s) URL of at most 256 characters",
    ),
    "01": (lambda v: v in ("0", "1"), '"0" or "1"'),
}


def callback_field_problem(fields: Mapping[str, str]) -> str:
    """What is wrong with a CallBack body's optional fields (documented names,
    string values), or "" when nothing is.  Unknown names are not checked."""
    for name, rule in CALLBACK_FIELDS.values():
        value = fields.get(name)
        if value is None or value == "":
            continue
        check, text = _RULES[rule]
        if not isinstance(value, str) or not check(value):
            return f"{name} must be {text}"
    max_time, count_down = fields.get("maxCallTime"), fields.get("countDownTime")
    if max_time and count_down and int(count_down) >= int(max_time):
        return "countDownTime must be below maxCallTime"
    if fields.get("countDownPrompt") and not count_down:
        return "countDownPrompt needs countDownTime"
    return ""


def _callback_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        if CALLBACK_FIELDS[key][1] == "01":
            return "1" if value else "0"
        return "true" if value else "false"
    return str(value)


def callback_optional(**given: Any) -> dict[str, str]:
    """two_way_call's optional keyword args -> the documented names, as strings."""
    return {
        CALLBACK_FIELDS[key][0]: _callback_value(key, value)
        for key, value in given.items()
        if value is not None and value != ""
    }


# Result code -> (exception class, English gloss), the client's error_map.
ERRORS: Mapping[str, ErrorRow] = {
    "111100": (AuthError, "Authorization header missing"),
    "111101": (AuthError, "Authorization header is not Base64"),
    "111102": (AuthError, "Authorization header is not id:timestamp"),
    "111104": (AuthError, "Authorization timestamp malformed"),
    # A stale timestamp is our clock or a replay: re-signing fixes it, but only
    # once the clock is right, so it is an auth error, not a retry.
    "111105": (AuthError, "Authorization timestamp expired (24 h)"),
    "111108": (AuthError, "sig parameter missing"),
    "111109": (AuthError, "sig does not match"),
    "111112": (AuthError, "Authorization account differs from the URL's"),
    "111113": (NotFound, "Main account does not exist"),
    "111114": (PermissionDenied, "Account suspended or closed"),
    "111130": (NotFound, "Sub-account does not exist"),
    "111200": (InvalidRequest, "Request body or parameter error"),
    "160031": (InvalidRequest, "SMS parameter error"),
    # The SMS family (1123xx), from a cloopen SDK user's table; 112312 is ours.
    "112300": (InvalidRequest, "SMS recipient numbers missing"),
    "112301": (InvalidRequest, "SMS body missing"),
    "112302": (PermissionDenied, "Bulk SMS suspended for this account"),
    "112303": (PermissionDenied, "The application has no SMS capability"),
    "112304": (InvalidRequest, "SMS body encoding could not be converted"),
    "112305": (PermissionDenied, _NOT_ONLINE_RULE),
    "112306": (InvalidRequest, "Template SMS recipient numbers missing"),
    "112307": (InvalidRequest, "Template SMS templateId missing"),
    "112308": (InvalidRequest, "Template SMS datas missing"),
    "112309": (InvalidRequest, "Template SMS content encoding could not be converted"),
    "112310": (PermissionDenied, _NOT_ONLINE_RULE),
    "112311": (NotFound, "SMS template does not exist"),
    "112312": (PermissionDenied, _DISABLED_RULE),
    # Not weather: the same content to the same number again too soon; a retry
    # would only be refused again (or send a duplicate later).
    "160021": (Conflict, "Same content to the same number only once within the set time"),
    # Not a platform answer: the official SDK's own stand-in for "network
    # error"; kept so a code copied from SDK logs still classifies.
    "172001": (NetworkError, "Network error (SDK-local code)"),
}
