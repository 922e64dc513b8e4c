"""Binding kinds: the generic adapter over the specs the vendors declare.

Each vendor client lists the binding kinds it offers (`binding_kinds`, specs of
vendors.binding_kinds.BindingKindSpec: TTL bounds and default, inputs, flags,
texts, `clean`, and how its client binds and releases).  This module reads them
from the registry (vendors.REGISTRY, vendors.register), so a kind added by a
vendor plug-in is offered with no edit here; and it turns a Binding row into
the vendor's plain BindingRequest.  Validation, forms, the API, views, tasks,
templates and allocation read the spec's attributes; nothing branches on a
kind's code.  The facts behind each kind's flags are in its vendor's module.

This module imports no models (privacy.models reads it for `Binding.spec`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from core.phones import national_number
from vendors import REGISTRY
from vendors.binding_kinds import (
    DEFAULT_X_HELP,
    OPTIONAL_INPUTS,
    BindingKindSpec,
    BindingRequest,
    Errors,
)

# The spec type under the name privacy's modules use.
BindingKind = BindingKindSpec

__all__ = [
    "DEFAULT_X_HELP",
    "KINDS",
    "OPTIONAL_INPUTS",
    "BindingKind",
    "Errors",
    "bind",
    "choices",
    "codes",
    "for_vendor",
    "get",
    "release",
    "vendors",
    "where",
]


class _Registered(Mapping[str, BindingKindSpec]):
    """code -> spec over the registered vendors, read at each use, so a vendor
    registered (or removed) later is seen at once."""

    def _all(self) -> dict[str, BindingKindSpec]:
        return {spec.code: spec for cls in REGISTRY.values() for spec in cls.binding_kinds}

    def __getitem__(self, code: str) -> BindingKindSpec:
        return self._all()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


KINDS: Mapping[str, BindingKindSpec] = _Registered()


def get(code: str) -> BindingKindSpec | None:
    return KINDS.get(code)


def codes() -> list[str]:
    return list(KINDS)


def choices() -> list[tuple[str, str]]:
    """(code, label) of every registered kind: Binding.kind's choices.  A callable,
    so a kind registered later appears without a migration."""
    return [(spec.code, spec.choice_label) for spec in KINDS.values()]


def for_vendor(vendor: str) -> list[BindingKindSpec]:
    return [k for k in KINDS.values() if k.vendor == vendor]


def vendors() -> list[str]:
    """Vendor codes that offer bindings, each once."""
    return list(dict.fromkeys(k.vendor for k in KINDS.values()))


def where(flag: str) -> list[str]:
    """Codes of the kinds whose boolean attribute `flag` is set (for queries)."""
    return [k.code for k in KINDS.values() if getattr(k, flag)]


def request_for(binding) -> BindingRequest:
    """The vendor-facing view of a Binding row: numbers in national form."""
    return BindingRequest(
        a_number=national_number(binding.a_number),
        b_number=national_number(binding.b_number) if binding.b_number else "",
        x_number=national_number(binding.x_number.number) if binding.x_number else "",
        reqid=binding.reqid or "",
        ttl=binding.ttl or 0,
        record=bool(binding.record),
        display=binding.display or binding.spec.default_display,
        direct=binding.direct,
        anucode=binding.anucode or "",
        ansanu=binding.ansanu or "",
        user_data=binding.user_data or "",
        end_time=binding.expires_at,
        area_code=binding.area_code or "",
        vendor_binding_id=binding.vendor_binding_id or "",
    )


def bind(client, binding):
    """Make `binding` at its vendor through `client`; returns the BindingResult."""
    return binding.spec.bind(client, request_for(binding))


def release(client, binding) -> None:
    """Undo `binding` at its vendor (kinds that do not release locally)."""
    binding.spec.release(client, request_for(binding))
