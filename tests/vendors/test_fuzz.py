"""Hostile input: parse_callback raises InvalidPayload and nothing else, and
authenticate_callback raises CallbackAuthError and nothing else."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vendors
from vendors import CallbackAuthError, CallEventData, CallRecordData, InvalidPayload

CLIENTS = {
    code: cls(base_url="https://v.example", account_id="acc", secret="sec", app_id="app")
    for code, cls in vendors.REGISTRY.items()
}
KINDS = [(code, kind) for code, client in CLIENTS.items() for kind in client.callback_kinds]
CONTENT_TYPES = st.sampled_from(
    ["", "application/json", "application/x-www-form-urlencoded", "application/xml", "text/plain"]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
# Field names the parsers look for, so fuzzed objects get past the first check.
KNOWN_KEYS = st.sampled_from(
    [
        "taskid", "result", "beginTime", "answerTime", "callTime", "releasedir", "devid",
        "eventType", "statusInfo", "feeLst", "sessionId", "timestamp", "stateCode",
        "fwdAnswerTime", "callEndTime", "action", "callSid", "starttime", "byetype",
        "CallIdentifier", "Result", "StartTime", "Duration", "Request",
    ]
)  # fmt: skip
json_objects = st.dictionaries(KNOWN_KEYS | st.text(max_size=8), json_values, max_size=8)


def _check(code: str, kind: str, body: bytes, content_type: str) -> None:
    try:
        items = CLIENTS[code].parse_callback(kind, body=body, content_type=content_type)
    except InvalidPayload:
        return
    assert isinstance(items, list)
    assert all(isinstance(i, CallRecordData | CallEventData) for i in items)


@pytest.mark.parametrize(("code", "kind"), KINDS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), content_type=CONTENT_TYPES)
def test_random_bytes(code: str, kind: str, body: bytes, content_type: str) -> None:
    _check(code, kind, body, content_type)


@pytest.mark.parametrize(("code", "kind"), KINDS)
@settings(max_examples=100, deadline=None)
@given(obj=json_objects)
def test_random_json_objects(code: str, kind: str, obj: dict) -> None:
    body = json.dumps(obj, allow_nan=True).encode()
    _check(code, kind, body, "application/json")
    # Also nested where the vendor nests (huawei statusInfo / feeLst).
    wrapped = {"eventType": "answer", "statusInfo": obj}
    _check(code, kind, json.dumps(wrapped).encode(), "application/json")
    fee = {"eventType": "fee", "feeLst": [obj]}
    _check(code, kind, json.dumps(fee).encode(), "application/json")


@pytest.mark.parametrize(("code", "kind"), KINDS)
@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(st.tuples(KNOWN_KEYS | st.text(max_size=6), st.text(max_size=12)), max_size=8)
)
def test_random_forms(code: str, kind: str, pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    _check(code, kind, urlencode(pairs).encode(), "application/x-www-form-urlencoded")


@pytest.mark.parametrize("code", list(CLIENTS))
@settings(max_examples=100, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["Authorization", "X-AKSK", "Content-Type", "x-aksk"]),
        st.text(max_size=80),
    ),
    body=st.binary(max_size=100),
)
def test_authenticate_raises_only_callback_auth_error(code, headers, body) -> None:
    client = CLIENTS[code]
    with contextlib.suppress(CallbackAuthError):
        client.authenticate_callback(
            client.callback_kinds[0], headers=headers, body=body, url="https://us/cb"
        )


def test_deep_nesting_is_invalid_payload() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    for code, kind in KINDS:
        with pytest.raises(InvalidPayload):
            CLIENTS[code].parse_callback(kind, body=body, content_type="application/json")
