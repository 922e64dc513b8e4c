"""Binding kinds as specs: everything that differs between AXB, XA and cyj, in one place.

A spec says which vendor offers the kind, its TTL bounds and default, which of
the optional inputs apply, how it checks them (`clean`), how a worker binds and
releases it at the vendor (`bind`, `release`), and the texts the form and the
release confirmation show. Validation, forms, the API, views, tasks, templates
and allocation read these attributes; nothing else branches on a kind's code.

Facts behind the flags (vendor-docs, rules.py):
- igw binds carry `reqid`, an idempotency key reused by every retry, so a
  redelivered bind is safe (`bind_idempotent`). cyj's bind has none.
- igw releases are vendor calls. cyj documents no release API (§二: "到期后平台
  自动解绑"): a release is local and the vendor keeps the binding, still pairing
  A and B on its X, until its end time (`releases_locally`,
  `held_until_end_time`); allocation counts it as live until then, since a
  re-bind of the pair on that X would be refused (cyj 103001).
- cyj is told its end time (EndMinute) in the bind request itself, so its
  expiry counts from the attempt (`end_time_in_bind`); igw counts ttl from its
  receipt of the request, so ours counts from its answer.
- cyj may pick the virtual number itself and names it as its binding id
  (`vendor_picks_x`).
- An igw XA transfer forwards every call to X: X carries it alone
  (`exclusive_x`; the partial unique index privacy_binding_live_xa is the
  database's backstop for it), and its calls carry no subid, so they are linked
  to it by X (`calls_linked_by_x`, privacy.selectors.CALL_BINDING_SQL).

Each spec's `vendor` matches that client's `binding_kinds` (vendors/; a test
holds them together). This module imports no models (privacy.models reads it for `Binding.spec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.phones import national_number
from privacy import rules

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
# (the form simply does not show it), as it always has.
_IGNORED_WHEN_ABSENT: Final = frozenset({"record"})

DEFAULT_X_HELP: Final = "Leave empty to allocate the least-loaded free X of the account's pool."


@dataclass(frozen=True)
class BindingKind:
    """What a binding kind is; subclasses add how its vendor calls look."""

    code: str
    vendor: str
    label: str  # in messages: "igw AXB bindings take no call direction."
    name: str  # on buttons: "New AXB"
    ttl_min: int
    ttl_max: int
    ttl_default: int | None  # None: the caller must give a ttl
    ttl_help: str
    inputs: frozenset[str]
    release_confirmation: str
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

    def bind(self, client, binding):
        """Make the vendor binding; returns the client's BindingResult."""
        raise NotImplementedError

    def release(self, client, binding) -> None:
        """Undo the vendor binding. Not called for kinds that release locally."""
        raise NotImplementedError(f"{self.code} releases locally")


def _given(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value is not False


def _x(binding) -> str:
    return national_number(binding.x_number.number) if binding.x_number else ""


class AxbKind(BindingKind):
    def bind(self, client, binding):
        return client.bind_axb(
            x_number=_x(binding),
            a_number=national_number(binding.a_number),
            b_number=national_number(binding.b_number),
            reqid=binding.reqid,
            ttl=binding.ttl,
            record=binding.record,
            display=binding.display or self.display_choices[0][0],
            anucode=binding.anucode,
            ansanu=binding.ansanu,
            user_data=binding.user_data,
        )

    def release(self, client, binding) -> None:
        client.release_axb(subid=binding.vendor_binding_id)


class XaKind(BindingKind):
    def bind(self, client, binding):
        return client.bind_xa(
            x_number=_x(binding),
            a_number=national_number(binding.a_number),
            reqid=binding.reqid,
            ttl=binding.ttl,
            record=binding.record,
            display=int(binding.display or self.display_choices[0][0]),
            anucode=binding.anucode,
            user_data=binding.user_data,
        )

    def release(self, client, binding) -> None:
        # igw releases an XA by its X alone (§4.4).
        client.release_xa(x_number=_x(binding))


class CyjKind(BindingKind):
    def bind(self, client, binding):
        return client.bind(
            caller=national_number(binding.a_number),
            callee=national_number(binding.b_number),
            virtual_number=_x(binding),
            direct=binding.direct or 0,
            end_time=binding.expires_at,
            area_code=binding.area_code,
        )


_IGW_RELEASE = "The vendor is asked to unbind it; calls to X stop reaching these numbers."

AXB: Final = AxbKind(
    code="axb",
    vendor="igw",
    label="igw AXB",
    name="AXB",
    ttl_min=1,
    ttl_max=rules.IGW_MAX_TTL,
    ttl_default=None,
    ttl_help=f"Required, 1..{rules.IGW_MAX_TTL} seconds (7 days).",
    form_ttl=rules.AXB_FORM_TTL,
    inputs=frozenset({"b_number", "display", "anucode", "ansanu", "user_data", "record"}),
    release_confirmation=_IGW_RELEASE,
    display_choices=(
        ("0,0", "0,0 — both parties see X"),
        ("0,1", "0,1 — B sees X; A sees B's real number"),
        ("1,0", "1,0 — B sees A's real number; A sees X"),
        ("1,1", "1,1 — both see the real numbers"),
    ),
)
XA: Final = XaKind(
    code="xa",
    vendor="igw",
    label="igw XA",
    name="XA",
    ttl_min=0,
    ttl_max=rules.IGW_MAX_TTL,
    ttl_default=0,
    form_ttl=0,
    ttl_help=f"0 or empty: until released; at most {rules.IGW_MAX_TTL} seconds (7 days).",
    inputs=frozenset({"display", "anucode", "user_data", "record"}),
    release_confirmation=_IGW_RELEASE,
    display_choices=(("0", "0 — show X"), ("1", "1 — show real caller")),
    exclusive_x=True,
    calls_linked_by_x=True,
)
CYJ: Final = CyjKind(
    code="cyj",
    vendor="cyj",
    label="cyj",
    name="cyj",
    ttl_min=rules.CYJ_MIN_TTL,
    ttl_max=rules.CYJ_MAX_TTL,
    ttl_default=rules.CYJ_DEFAULT_TTL,
    form_ttl=rules.CYJ_DEFAULT_TTL,
    ttl_help=f"{rules.CYJ_MIN_TTL}..{rules.CYJ_MAX_TTL} seconds; the vendor unbinds at the end "
    "(EndMinute is at most 60 minutes).",
    inputs=frozenset({"b_number", "direct"}),
    release_confirmation="cyj has no release call: the binding is marked released here and "
    "the vendor unbinds it by itself at its end time.",
    direct_choices=((0, "0 — both ways"), (1, "1 — A calls B only"), (2, "2 — B calls A only")),
    x_help="Leave empty to allocate from the pool, or, with no pool, let the vendor pick.",
    releases_locally=True,
    local_release_note="cyj has no release API: the vendor unbinds at EndMinute",
    bind_idempotent=False,
    end_time_in_bind=True,
    vendor_picks_x=True,
)

KINDS: Final[dict[str, BindingKind]] = {k.code: k for k in (AXB, XA, CYJ)}


def get(code: str) -> BindingKind | None:
    return KINDS.get(code)


def codes() -> list[str]:
    return list(KINDS)


def for_vendor(vendor: str) -> list[BindingKind]:
    return [k for k in KINDS.values() if k.vendor == vendor]


def vendors() -> list[str]:
    """Vendor codes that offer bindings, each once."""
    return list(dict.fromkeys(k.vendor for k in KINDS.values()))


def where(flag: str) -> list[str]:
    """Codes of the kinds whose boolean attribute `flag` is set (for queries)."""
    return [k.code for k in KINDS.values() if getattr(k, flag)]
