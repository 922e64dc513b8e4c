"""The sandbox's emulation of the made-up vendor acme (see vendor.py): its
routes, its error body, and the CDR it posts when a call is played."""

from __future__ import annotations

import hmac
import json
import time

from django.http import HttpResponse, JsonResponse

from sandbox import protocol
from sandbox.delivery import Outgoing
from sandbox.models import SandboxAccount, SandboxCall
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


ROUTES = (Route("api/v1/status", ("GET",), status),)


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
