"""acme: a made-up vendor with the smallest complete plug-in.

API: GET /v1/status answers {"code": "0", "state": 1, "balance": "12.50"}.
Every request carries X-Acme-Account, X-Acme-Time (Unix seconds) and
X-Acme-Signature = hex HMAC-SHA256(secret, "<account>:<time>").
Callbacks: one kind, "cdr", a JSON object; X-Acme-Signature = hex
HMAC-SHA256(secret, body).  The callback answer is {"received": true}.
Bindings: one kind, "acme", pairing A and B on an X of the account's pool.
POST /v1/pairs {"a", "b", "x", "ttl", "reqid"} answers {"code": "0", "pair_id",
"x"}; the same reqid answers the same pair (so a retry
is safe); DELETE /v1/pairs/<pair_id> releases it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import requests

from vendors.account_settings import Setting
from vendors.base import Reply, Signature, VendorClient
from vendors.binding_kinds import BindingKindSpec, BindingRequest
from vendors.errors import AuthError, CallbackAuthError, InvalidPayload, NotFound
from vendors.types import (
    AccountStatus,
    BindingResult,
    CallEventData,
    CallOutcome,
    CallRecordData,
)

CODE = "acme"
_STATES = {0: "trial", 1: "active", 2: "suspended", 3: "closed"}
_OUTCOMES = {"answered": CallOutcome.ANSWERED, "no_answer": CallOutcome.NO_ANSWER}


def api_signature(account: str, secret: str, timestamp: str) -> str:
    return hmac.new(secret.encode(), f"{account}:{timestamp}".encode(), hashlib.sha256).hexdigest()


def body_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _bind(client: AcmeClient, request: BindingRequest) -> BindingResult:
    return client.bind_pair(
        a=request.a_number,
        b=request.b_number,
        x=request.x_number,
        ttl=request.ttl,
        reqid=request.reqid,
    )


def _release(client: AcmeClient, request: BindingRequest) -> None:
    client.release_pair(pair_id=request.vendor_binding_id)


PAIR = BindingKindSpec(
    code=CODE,
    vendor=CODE,
    label="acme pair",
    name="acme pair",
    choice_label="Pair (acme)",
    ttl_min=60,
    ttl_max=86400,
    ttl_default=3600,
    form_ttl=3600,
    ttl_help="60..86400 seconds.",
    inputs=frozenset({"b_number"}),
    release_confirmation="acme is asked to unpair A and B.",
    binder=_bind,
    releaser=_release,
)


class AcmeClient(VendorClient):
    code: ClassVar[str] = CODE
    label: ClassVar[str] = "ACME (made-up test vendor)"
    callback_kinds: ClassVar[tuple[str, ...]] = ("cdr",)
    error_map: ClassVar[Mapping[str, Any]] = {
        "401": (AuthError, "Signature mismatch"),
        "4040": (NotFound, "No such pair"),
    }
    hidden_callback_headers: ClassVar[tuple[str, ...]] = ("X-Acme-Signature",)
    callback_headers: ClassVar[tuple[str, ...]] = ("X-Acme-Signature",)
    callback_ack: ClassVar[tuple[str, bytes]] = ("application/json", b'{"received":true}')
    recording_source: ClassVar[str] = "url"
    supports_account_status: ClassVar[bool] = True
    account_settings: ClassVar[Mapping[str, Setting]] = {
        "region": Setting(str, "ACME region.", choices=("east", "west")),
    }
    sandbox_module: ClassVar[str] = "tests.plugin_vendor.sandbox"
    binding_kinds: ClassVar[tuple[BindingKindSpec, ...]] = (PAIR,)

    def _sign(self) -> Signature:
        now = str(int(time.time()))
        return {}, {
            "X-Acme-Account": self.account_id,
            "X-Acme-Time": now,
            "X-Acme-Signature": api_signature(self.account_id, self._secret, now),
        }

    def _interpret(self, response: requests.Response) -> Reply:
        return self._json_envelope(response, code_field="code", success="0", message_field="msg")

    def account_status(self) -> AccountStatus:
        payload = self._send("GET", "/v1/status")
        return AccountStatus(
            state=_STATES.get(payload.get("state"), "unknown"),
            balance=Decimal(str(payload["balance"])),
            raw=payload,
        )

    def bind_pair(self, *, a: str, b: str, x: str, ttl: int, reqid: str) -> BindingResult:
        body = json.dumps({"a": a, "b": b, "x": x, "ttl": ttl, "reqid": reqid}).encode()
        headers = {"Content-Type": "application/json"}
        payload = self._send("POST", "/v1/pairs", data=body, headers=headers)
        return BindingResult(
            vendor_binding_id=str(payload["pair_id"]), x_number=str(payload["x"]), raw=payload
        )

    def release_pair(self, *, pair_id: str) -> None:
        self._send("DELETE", f"/v1/pairs/{pair_id}")

    def authenticate_callback(
        self,
        kind: str,
        *,
        headers: Mapping[str, str],
        body: bytes,
        url: str,
        now: datetime | None = None,
    ) -> None:
        received = headers.get("X-Acme-Signature", "")
        expected = body_signature(self._secret, body)
        if not hmac.compare_digest(received.encode(), expected.encode()):
            raise CallbackAuthError(
                "X-Acme-Signature did not match", expected="HMAC of the body", received="other"
            )

    def _parse_callback(
        self, kind: str, body: bytes, content_type: str
    ) -> list[CallRecordData | CallEventData]:
        data = json.loads(body)
        if not isinstance(data, dict) or not data.get("call_id"):
            raise InvalidPayload("acme cdr: a JSON object with call_id expected")
        return [
            CallRecordData(
                vendor=CODE,
                call_id=str(data["call_id"]),
                vendor_binding_id="",
                caller=str(data.get("from", "")),
                callee=str(data.get("to", "")),
                x_number="",
                outcome=_OUTCOMES.get(data.get("outcome"), CallOutcome.OTHER),
                raw_code=str(data.get("outcome", "")),
                begin_at=_time(data.get("start")),
                answer_at=_time(data.get("answer")),
                release_at=_time(data.get("end")),
                duration=int(data.get("duration") or 0),
                raw=data,
            )
        ]
