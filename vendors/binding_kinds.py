"""Binding kinds as the vendors declare them: `BindingKindSpec` (no Django here).

A vendor that offers privacy bindings lists its kinds on its client class
(`VendorClient.binding_kinds`, a tuple of specs).  A spec says which vendor
offers the kind, its TTL bounds and default, which of the optional inputs apply,
how it checks them (`clean`), how a worker binds and releases it through the
client (`bind`, `release`, over a plain `BindingRequest`), and the texts the
form and the release confirmation show.  privacy.kinds reads them from the
registry; privacy never names a kind or a vendor.

The flags (the vendor modules say which of their facts set them):
- `bind_idempotent`: the vendor takes our idempotency key (`reqid`) and a
  redelivered bind is safe; otherwise a bind is attempted at most once.
- `releases_locally`: the vendor has no release API, a release is ours alone and
  the vendor keeps pairing A and B on X until the end time
  (`held_until_end_time`), so allocation counts it as live until then.
- `end_time_in_bind`: the bind request carries the end time, so expiry counts
  from the attempt; otherwise from the vendor's answer.
- `vendor_picks_x`: the vendor may choose X itself (no pool needed).
- `exclusive_x`: X carries this binding alone; `calls_linked_by_x`: its calls
  carry no binding id and are linked to it by X.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .types import BindingResult

Errors = dict[str, list[str]]

# Inputs that only some kinds take, with the words an error uses for each. A, the
# vendor account, X, the area code and ttl apply to every kind.
OPTIONAL_INPUTS: Final[dict[str, str]] = {
    "b_number": "B number",
    "display": "display mode",
    "direct": "call direction",
    "anucode": "announcement codes",
    "ansanu": "announcement after answer",
    "user_data": "user data",
    "record": "call recording",
}
# `record` is a checkbox: a kind without it ignores the value rather than refuse it
# (the form simply does not show it).
_IGNORED_WHEN_ABSENT: Final = frozenset({"record"})

DEFAULT_X_HELP: Final = "Leave empty to allocate the least-loaded free X of the account's pool."


@dataclass(frozen=True, slots=True)
class BindingRequest:
    """What a bind or release call needs of a binding, numbers in national form
    (the console's adapter, privacy.kinds, builds it from its row)."""

    a_number: str
    b_number: str = ""
    x_number: str = ""  # "" when the vendor picks X
    reqid: str = ""
    ttl: int = 0
    record: bool = False
    display: str = ""
    direct: int | None = None
    anucode: str = ""
    ansanu: str = ""
    user_data: str = ""
    end_time: datetime | None = None
    area_code: str = ""
    vendor_binding_id: str = ""


Binder = Callable[[Any, BindingRequest], BindingResult]
Releaser = Callable[[Any, BindingRequest], None]


@dataclass(frozen=True)
class BindingKindSpec:
    """What a binding kind is, and how its vendor's client binds and releases it."""

    code: str
    vendor: str
    label: str  # in messages: "igw AXB bindings take no call direction."
    name: str  # on buttons: "New AXB"
    choice_label: str  # in choices: "AXB (igw)"
    ttl_min: int
    ttl_max: int
    ttl_default: int | None  # None: the caller must give a ttl
    ttl_help: str
    inputs: frozenset[str]
    release_confirmation: str
    # bind(client, request) -> BindingResult; release(client, request), None for
    # kinds that release locally.
    binder: Binder
    releaser: Releaser | None = None
    display_choices: tuple[tuple[str, str], ...] = ()
    direct_choices: tuple[tuple[int, str], ...] = ()
    x_help: str = DEFAULT_X_HELP
    # The ttl the form starts at.
    form_ttl: int | None = None
    # The history reason of a local release (kinds that release locally).
    local_release_note: str = ""
    exclusive_x: bool = False
    releases_locally: bool = False
    bind_idempotent: bool = True
    end_time_in_bind: bool = False
    vendor_picks_x: bool = False
    calls_linked_by_x: bool = False

    def __post_init__(self) -> None:
        if (self.releaser is None) is not self.releases_locally:
            raise ValueError(f"{self.code}: a releaser exactly when it does not release locally")

    # ---------------------------------------------------------------- facts

    @property
    def held_until_end_time(self) -> bool:
        """A locally released binding still pairs A and B at the vendor until it ends."""
        return self.releases_locally

    @property
    def ttl_required(self) -> bool:
        return self.ttl_default is None

    @property
    def has_b_number(self) -> bool:
        return "b_number" in self.inputs

    @property
    def has_direct(self) -> bool:
        return "direct" in self.inputs

    @property
    def has_record(self) -> bool:
        return "record" in self.inputs

    @property
    def has_display(self) -> bool:
        return "display" in self.inputs

    @property
    def has_reqid(self) -> bool:
        """The vendor takes our idempotency key (igw reqid): worth showing."""
        return self.bind_idempotent

    @property
    def default_display(self) -> str:
        return self.display_choices[0][0] if self.display_choices else ""

    def takes(self, name: str) -> bool:
        return name in self.inputs

    # ---------------------------------------------------------------- validation

    def clean(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
        """Check the kind's own inputs in `data`; return (their clean values, errors).

        The clean values are ttl, display and direct with the kind's defaults
        applied. Inputs the kind does not take are refused when given.
        """
        errors: Errors = {}
        for name, words in OPTIONAL_INPUTS.items():
            refused = name not in self.inputs and name not in _IGNORED_WHEN_ABSENT
            if refused and _given(data.get(name)):
                errors.setdefault(name, []).append(f"{self.label} bindings take no {words}.")
        values = {
            "ttl": self._clean_ttl(data.get("ttl"), errors),
            "display": self._clean_display(data.get("display"), errors),
            "direct": self._clean_direct(data.get("direct"), errors),
        }
        return values, errors

    def _clean_ttl(self, ttl: int | None, errors: Errors) -> int | None:
        if ttl is None:
            ttl = self.ttl_default
        if ttl is None:
            errors.setdefault("ttl", []).append(f"{self.label} needs a ttl: {self.ttl_help}")
        elif not self.ttl_min <= ttl <= self.ttl_max:
            errors.setdefault("ttl", []).append(self.ttl_help)
        return ttl

    def _clean_display(self, display: str | None, errors: Errors) -> str:
        display = (display or "").strip()
        if not self.has_display:
            return display
        allowed = [code for code, _ in self.display_choices]
        display = display or allowed[0]
        if display not in allowed:
            errors.setdefault("display", []).append(f"One of {', '.join(allowed)}.")
        return display

    def _clean_direct(self, direct: int | None, errors: Errors) -> int | None:
        if not self.has_direct:
            return direct
        allowed = [code for code, _ in self.direct_choices]
        direct = allowed[0] if direct is None else direct
        if direct not in allowed:
            errors.setdefault("direct", []).append(
                "; ".join(text for _, text in self.direct_choices) + "."
            )
        return direct

    # ---------------------------------------------------------------- vendor calls

    def bind(self, client: Any, request: BindingRequest) -> BindingResult:
        """Make the vendor binding through `client` (the vendor's VendorClient)."""
        return self.binder(client, request)

    def release(self, client: Any, request: BindingRequest) -> None:
        """Undo the vendor binding. Not called for kinds that release locally."""
        if self.releaser is None:
            raise NotImplementedError(f"{self.code} releases locally")
        self.releaser(client, request)


def _given(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value is not False
