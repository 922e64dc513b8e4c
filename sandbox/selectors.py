"""Reads of the sandbox's state: active bindings, lookups for the simulated
endpoints, and the recent activity the /sandbox/ page shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from core import filters as core_filters
from sandbox import filters as sandbox_filters
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


def request_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[SandboxRequest]:
    """Raises ValidationError naming any unusable filter (sandbox.filters)."""
    return core_filters.apply(
        sandbox_filters.RequestFilter,
        filters=filters,
        queryset=SandboxRequest.objects.select_related("account"),
    )


def binding_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[SandboxBinding]:
    """Raises ValidationError naming any unusable filter (sandbox.filters)."""
    return core_filters.apply(
        sandbox_filters.BindingFilter,
        filters=filters,
        queryset=SandboxBinding.objects.select_related("account"),
    )


def call_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[SandboxCall]:
    """Raises ValidationError naming any unusable filter (sandbox.filters)."""
    return core_filters.apply(
        sandbox_filters.CallFilter,
        filters=filters,
        queryset=SandboxCall.objects.select_related("account", "binding"),
    )


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
