"""Reads of the sandbox's state: active bindings, lookups for the simulated
endpoints, and the recent activity the /sandbox/ page shows."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from sandbox.models import (
    SandboxAccount,
    SandboxBinding,
    SandboxCall,
    SandboxDelivery,
    SandboxRequest,
)


def active_bindings(*, account: SandboxAccount | None = None) -> QuerySet[SandboxBinding]:
    """Active and not expired (a ttl ends a binding without a release call)."""
    qs = SandboxBinding.objects.filter(state=SandboxBinding.State.ACTIVE).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    return qs.filter(account=account) if account is not None else qs


def binding_is_active(*, binding: SandboxBinding) -> bool:
    return binding.state == SandboxBinding.State.ACTIVE and (
        binding.expires_at is None or binding.expires_at > timezone.now()
    )


def recording_call(*, public_id: str) -> SandboxCall | None:
    """The call whose recording is served at /sandbox/recordings/<public_id>.wav,
    or None while it does not exist (not recorded, or still "late")."""
    call = SandboxCall.objects.select_related("account").filter(public_id=public_id).first()
    if call is None or not call.recorded:
        return None
    if call.recording_available_at and call.recording_available_at > timezone.now():
        return None
    return call


def request_list(*, filters: dict | None = None) -> QuerySet[SandboxRequest]:
    filters = filters or {}
    qs = SandboxRequest.objects.select_related("account")
    if filters.get("vendor"):
        qs = qs.filter(vendor=filters["vendor"])
    if filters.get("verdict"):
        qs = qs.filter(verdict=filters["verdict"])
    return qs


def binding_list(*, filters: dict | None = None) -> QuerySet[SandboxBinding]:
    filters = filters or {}
    qs = SandboxBinding.objects.select_related("account")
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("account"):
        qs = qs.filter(account_id=filters["account"])
    return qs


def call_list(*, filters: dict | None = None) -> QuerySet[SandboxCall]:
    filters = filters or {}
    qs = SandboxCall.objects.select_related("account", "binding")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("account"):
        qs = qs.filter(account_id=filters["account"])
    return qs


def playable_calls() -> QuerySet[SandboxCall]:
    """API-requested calls (ccp callback, huawei voice code) not played yet."""
    return SandboxCall.objects.select_related("account").filter(status=SandboxCall.Status.REQUESTED)


def delivery_list(*, filters: dict | None = None) -> QuerySet[SandboxDelivery]:
    filters = filters or {}
    qs = SandboxDelivery.objects.select_related("call", "call__account")
    if filters.get("call"):
        qs = qs.filter(call_id=filters["call"])
    return qs


def account_list() -> QuerySet[SandboxAccount]:
    return SandboxAccount.objects.all()
