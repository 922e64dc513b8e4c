"""Checking a binding request: everything that can be checked without locks.

`clean_request` checks what every kind shares (account, numbers, area code, the
chosen X, lengths) and asks the kind's spec (privacy.kinds) for the rest. It
raises every field error at once, or returns a BindingRequest that allocation
and the create use case work from.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from accounts.models import PrivacyNumber, VendorAccount
from core.phones import national_number, normalize_into
from privacy import kinds
from privacy.kinds import BindingKind, Errors

# Longest accepted values of the free-text inputs (the model's column widths).
TEXT_LIMITS = {"anucode": 64, "ansanu": 64, "user_data": 256}


@dataclass(frozen=True)
class BindingRequest:
    spec: BindingKind
    account: VendorAccount
    a_number: str
    b_number: str
    x_number: PrivacyNumber | None
    area_code: str
    ttl: int
    record: bool
    display: str
    direct: int | None
    anucode: str
    ansanu: str
    user_data: str

    @property
    def kind(self) -> str:
        return self.spec.code

    @property
    def parties(self) -> list[str]:
        return [n for n in (self.a_number, self.b_number) if n]


def _err(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_account(spec: BindingKind | None, account: VendorAccount | None, errors: Errors):
    if account is None:
        _err(errors, "vendor_account", "Choose a vendor account.")
        return
    if not account.enabled:
        _err(errors, "vendor_account", f"{account.name} is disabled; it makes no vendor calls.")
    if spec is not None and spec.vendor != account.vendor:
        offered = [k.code for k in kinds.for_vendor(account.vendor)]
        _err(
            errors,
            "vendor_account",
            f"{account.name} is a {account.vendor} account, which does not offer "
            f"{spec.code} bindings" + (f" (it offers: {', '.join(offered)})." if offered else "."),
        )


def _parties(spec: BindingKind | None, a_number: str, b_number: str, errors: Errors):
    a = normalize_into(a_number, field="a_number", errors=errors)
    b = ""
    if spec is not None and spec.has_b_number:
        b = normalize_into(b_number, field="b_number", errors=errors)
    if a and b and a == b:
        _err(errors, "b_number", "A and B must be different numbers.")
    return a, b


def _area_code(area_code: str, errors: Errors) -> str:
    area_code = (area_code or "").strip()
    if area_code and not (area_code.isdigit() and 3 <= len(area_code) <= 4):
        _err(errors, "area_code", "An area code is 3 or 4 digits, e.g. 010 or 0755.")
    return area_code


def _chosen_x(
    x_number: PrivacyNumber | str | None, account: VendorAccount | None, errors: Errors
) -> PrivacyNumber | None:
    if account is None or not x_number:
        return None
    x = x_number if isinstance(x_number, PrivacyNumber) else _pool_number(x_number, errors)
    if x is None:
        return None
    if x.vendor_account_id != account.pk:
        _err(errors, "x_number", f"{national_number(x.number)} belongs to another vendor account.")
    elif x.status != PrivacyNumber.Status.AVAILABLE:
        _err(
            errors, "x_number", f"{national_number(x.number)} is {x.get_status_display().lower()}."
        )
    return x


def _pool_number(raw: str, errors: Errors) -> PrivacyNumber | None:
    if not str(raw).strip():
        return None
    number = normalize_into(str(raw), field="x_number", errors=errors)
    if not number:
        return None
    x = PrivacyNumber.objects.filter(number=number).first()
    if x is None:
        _err(errors, "x_number", f"{national_number(number)} is not in the number pool.")
    return x


def _check_lengths(values: dict[str, str], errors: Errors) -> None:
    for field, limit in TEXT_LIMITS.items():
        if len(values.get(field) or "") > limit:
            _err(errors, field, f"At most {limit} characters.")


def clean_request(
    *,
    kind: str,
    vendor_account: VendorAccount | None,
    a_number: str,
    b_number: str,
    x_number: PrivacyNumber | str | None,
    area_code: str,
    ttl: int | None,
    record: bool,
    display: str,
    direct: int | None,
    anucode: str,
    ansanu: str,
    user_data: str,
) -> BindingRequest:
    """Check everything that can be checked without locks; raise every field error at once."""
    errors: Errors = {}
    spec = kinds.get(kind)
    if spec is None:
        _err(errors, "kind", f"Choose one of {', '.join(kinds.codes())}.")
    _check_account(spec, vendor_account, errors)
    a, b = _parties(spec, a_number, b_number, errors)
    area_code = _area_code(area_code, errors)
    texts = {"anucode": anucode or "", "ansanu": ansanu or "", "user_data": user_data or ""}
    own: dict = {}
    if spec is not None:
        given = {"b_number": b_number, "ttl": ttl, "display": display, "direct": direct}
        own, kind_errors = spec.clean({**given, **texts, "record": record})
        for field, messages in kind_errors.items():
            errors.setdefault(field, []).extend(messages)
    _check_lengths(texts, errors)
    x = _chosen_x(x_number, vendor_account, errors)
    if errors:
        raise ValidationError(errors)
    assert spec is not None and vendor_account is not None
    return BindingRequest(
        spec=spec,
        account=vendor_account,
        a_number=a,
        b_number=b,
        x_number=x,
        area_code=area_code,
        record=bool(record),
        **own,
        **texts,
    )
