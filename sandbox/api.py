"""The sandbox's small JSON API (/sandbox/api/…): drive it from scripts and tests.

  GET   /sandbox/api/accounts/            sandbox accounts with their chaos settings
  PATCH /sandbox/api/accounts/<pk>/       set chaos_* / auto_play / state / max_bindings_per_x
  GET   /sandbox/api/bindings/            recent bindings
  GET   /sandbox/api/calls/               recent calls
  POST  /sandbox/api/calls/               play a call: {"binding": pk} or {"call": pk},
                                          outcome, duration, direction, caller, record,
                                          chaos {delay_ms, duplicate, out_of_order,
                                          recording_late_seconds}, sync (default false)
  GET   /sandbox/api/calls/<pk>/deliveries/
  GET   /sandbox/api/requests/            recent requests (?vendor=&verdict=)

Session or token authentication (the project's DRF defaults); every endpoint
needs sandbox.view_sandboxcall.  Secrets are never in an answer.  The endpoints
are left out of the console's OpenAPI schema: the sandbox is a development
tool, not part of the product API.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from sandbox import selectors, services
from sandbox.forms import OUTCOME_CHOICES
from sandbox.models import (
    SandboxAccount,
    SandboxBinding,
    SandboxCall,
    SandboxDelivery,
    SandboxRequest,
)

LIMIT = 100


class CanUseSandbox(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm("sandbox.view_sandboxcall"))


class ChaosInput(serializers.Serializer):
    # Bounded like the account's chaos fields: a delay is slept and a lateness added to
    # a datetime, and neither survives a value beyond a day.
    delay_ms = serializers.IntegerField(min_value=0, max_value=60_000, required=False)
    duplicate = serializers.BooleanField(required=False)
    out_of_order = serializers.BooleanField(required=False)
    recording_late_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)


class PlayInput(serializers.Serializer):
    binding = serializers.IntegerField(required=False)
    call = serializers.IntegerField(required=False)
    outcome = serializers.ChoiceField(choices=OUTCOME_CHOICES, default="answered")
    duration = serializers.IntegerField(min_value=0, max_value=7200, default=30)
    direction = serializers.ChoiceField(choices=services.DIRECTIONS, default="a_to_b")
    caller = serializers.CharField(required=False, allow_blank=True, default="")
    record = serializers.BooleanField(required=False, allow_null=True, default=None)
    chaos = ChaosInput(required=False)
    sync = serializers.BooleanField(default=False)

    def validate(self, attrs: dict) -> dict:
        if ("binding" in attrs) == ("call" in attrs):
            raise serializers.ValidationError("Give exactly one of binding or call.")
        return attrs


class AccountChaosInput(serializers.ModelSerializer):
    class Meta:
        model = SandboxAccount
        fields = SandboxAccount.SETTABLE_FIELDS


def account_data(a: SandboxAccount) -> dict[str, Any]:
    data = AccountChaosInput(a).data
    return {
        "id": a.pk,
        "vendor": a.vendor,
        "account_id": a.account_id,
        "app_id": a.app_id,
        "callback_urls": a.callback_urls,
        "numbers": a.numbers,
        **data,
    }


def binding_data(b: SandboxBinding) -> dict[str, Any]:
    return {
        "id": b.pk,
        "account": b.account_id,
        "kind": b.kind,
        "subid": b.subid,
        "reqid": b.reqid,
        "x_number": b.x_number,
        "a_number": b.a_number,
        "b_number": b.b_number,
        "state": b.state,
        "active": selectors.binding_is_active(binding=b),
        "expires_at": b.expires_at,
        "created_at": b.created_at,
    }


def call_data(c: SandboxCall) -> dict[str, Any]:
    return {
        "id": c.pk,
        "account": c.account_id,
        "binding": c.binding_id,
        "kind": c.kind,
        "call_id": c.call_id,
        "status": c.status,
        "caller": c.caller,
        "callee": c.callee,
        "x_number": c.x_number,
        "outcome": c.outcome,
        "duration": c.duration,
        "begin_at": c.begin_at,
        "answer_at": c.answer_at,
        "release_at": c.release_at,
        "recording_url": services.recording_url(c),
        "chaos": c.chaos,
    }


def delivery_data(d: SandboxDelivery) -> dict[str, Any]:
    return {
        "id": d.pk,
        "call": d.call_id,
        "kind": d.kind,
        "event": d.event,
        "sequence": d.sequence,
        "attempt": d.attempt,
        "duplicate": d.duplicate,
        "url": d.url,
        "http_status": d.http_status,
        "error": d.error,
        "body": d.body,
        "created_at": d.created_at,
    }


def request_data(r: SandboxRequest) -> dict[str, Any]:
    return {
        "id": r.pk,
        "vendor": r.vendor,
        "account": r.account_id,
        "method": r.method,
        "path": r.path,
        "query": r.query,
        "verdict": r.verdict,
        "vendor_code": r.vendor_code,
        "http_status": r.http_status,
        "duration_ms": r.duration_ms,
        "created_at": r.created_at,
    }


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([CanUseSandbox])
def account_list(request: Request) -> Response:
    return Response([account_data(a) for a in selectors.account_list()])


@extend_schema(exclude=True)
@api_view(["PATCH"])
@permission_classes([CanUseSandbox])
def account_update(request: Request, pk: int) -> Response:
    account = get_object_or_404(SandboxAccount, pk=pk)
    data = AccountChaosInput(account, data=request.data, partial=True)
    data.is_valid(raise_exception=True)
    services.account_set_chaos(account=account, **data.validated_data)
    return Response(account_data(account))


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([CanUseSandbox])
def binding_list(request: Request) -> Response:
    return Response([binding_data(b) for b in selectors.binding_list(filters=request.GET)[:LIMIT]])


@extend_schema(exclude=True)
@api_view(["GET", "POST"])
@permission_classes([CanUseSandbox])
def calls(request: Request) -> Response:
    if request.method == "GET":
        return Response([call_data(c) for c in selectors.call_list(filters=request.GET)[:LIMIT]])
    data = PlayInput(data=request.data)
    data.is_valid(raise_exception=True)
    args = dict(data.validated_data)
    target: dict[str, Any] = {}
    if "binding" in args:
        target["binding"] = get_object_or_404(SandboxBinding, pk=args.pop("binding"))
    else:
        target["call"] = get_object_or_404(SandboxCall, pk=args.pop("call"))
    try:
        call = services.play_call(
            **target,
            **args,
            base_url=request.build_absolute_uri("/sandbox").rstrip("/"),
        )
    except ValueError as exc:
        raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
    call.refresh_from_db()
    return Response(call_data(call), status=201)


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([CanUseSandbox])
def call_deliveries(request: Request, pk: int) -> Response:
    call = get_object_or_404(SandboxCall, pk=pk)
    rows = selectors.delivery_list(filters={"call": call.pk}).order_by("sequence", "attempt")
    return Response([delivery_data(d) for d in rows])


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([CanUseSandbox])
def request_list(request: Request) -> Response:
    return Response([request_data(r) for r in selectors.request_list(filters=request.GET)[:LIMIT]])
