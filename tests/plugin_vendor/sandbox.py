"""The sandbox's emulation of the made-up vendor acme (see vendor.py): its
routes, its error body, and the CDR it posts when a call is played."""

from __future__ import annotations

import hmac
import json
import secrets
import time

from django.http import HttpResponse, JsonResponse

from sandbox import protocol
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxBinding, SandboxCall
from sandbox.protocol import Exchange, Rejection, Route
from tests.plugin_vendor.vendor import CODE, api_signature, body_signature
from vendors.types import CallOutcome

OUTCOMES = (str(CallOutcome.ANSWERED), str(CallOutcome.NO_ANSWER))
BASE_PATH = "api"  # an account's base_url is …/sandbox/acme/api


def render_rejection(exchange: Exchange, rejection: Rejection) -> HttpResponse:
    return JsonResponse(
        {"code": rejection.code, "msg": rejection.message}, status=rejection.http_status
    )


def authenticate(exchange: Exchange) -> SandboxAccount:
    headers = exchange.request.headers
    account_id, stamp = headers.get("X-Acme-Account", ""), headers.get("X-Acme-Time", "")
    account = SandboxAccount.objects.filter(vendor=CODE, account_id=account_id).first()
    if account is None:
        raise Rejection(protocol.UNKNOWN_ACCOUNT, "404", "no such account", http_status=404)
    exchange.account = account
    expected = api_signature(account_id, account.secret, stamp)
    if not hmac.compare_digest(headers.get("X-Acme-Signature", "").encode(), expected.encode()):
        raise Rejection(protocol.AUTH_FAILED, "401", "signature mismatch", http_status=401)
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
        raise Rejection(protocol.STALE, "401", "stale X-Acme-Time", http_status=401)
    return account


def status(exchange: Exchange) -> HttpResponse:
    account = authenticate(exchange)
    return JsonResponse({"code": "0", "state": account.state, "balance": str(account.balance)})


def bind_pair(exchange: Exchange) -> HttpResponse:
    account = authenticate(exchange)
    try:
        data = json.loads(exchange.request.body)
        a, b, ttl, reqid = data["a"], data["b"], int(data["ttl"]), str(data["reqid"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Rejection(protocol.INVALID, "400", f"bad pair request: {exc}") from None
    pair = account.bindings.filter(kind=CODE, reqid=reqid).first()  # a retry: the same pair
    if pair is None:
        pair = SandboxBinding.objects.create(
            account=account,
            kind=CODE,
            subid=secrets.token_hex(8),
            reqid=reqid,
            x_number=data.get("x") or f"170{secrets.randbelow(10**8):08d}",
            a_number=a,
            b_number=b,
            params={"ttl": ttl},
        )
    return JsonResponse({"code": "0", "pair_id": pair.subid, "x": pair.x_number})


def release_pair(exchange: Exchange, pair_id: str) -> HttpResponse:
    account = authenticate(exchange)
    released = account.bindings.filter(
        kind=CODE, subid=pair_id, state=SandboxBinding.State.ACTIVE
    ).update(state=SandboxBinding.State.RELEASED)
    if not released:
        raise Rejection(protocol.NOT_FOUND, "4040", "no such pair", http_status=404)
    return JsonResponse({"code": "0"})


ROUTES = (
    Route("api/v1/status", ("GET",), status),
    Route("api/v1/pairs", ("POST",), bind_pair),
    Route("api/v1/pairs/<str:pair_id>", ("DELETE",), release_pair),
)


def callbacks(call: SandboxCall, *, recording_url: str) -> list[Outgoing]:
    answered = call.outcome == CallOutcome.ANSWERED
    body = json.dumps(
        {
            "call_id": call.call_id,
            "from": call.caller,
            "to": call.callee,
            "outcome": call.outcome,
            "start": int(call.begin_at.timestamp()),
            "answer": int(call.answer_at.timestamp()) if answered else None,
            "end": int(call.release_at.timestamp()),
            "duration": call.duration,
        }
    ).encode()
    signature = body_signature(call.account.secret, body)
    return [
        Outgoing(
            kind="cdr",
            event="cdr",
            url=call.account.callback_urls.get("cdr", ""),
            body=body,
            content_type="application/json",
            sign=lambda url: {"X-Acme-Signature": signature},
        )
    ]
