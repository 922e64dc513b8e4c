"""Per-vendor `extra` settings of a VendorAccount: what each key means, and validation.

Unknown keys are refused so a typo never silently does nothing.
"""

import ipaddress
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from vendors.outbound import parse_host_port


@dataclass(frozen=True)
class Setting:
    kind: type
    help: str
    choices: tuple = ()
    min_value: int | None = None


def _hosts(value: list) -> None:
    for host in value:
        if not isinstance(host, str) or not host or "/" in host or " " in host:
            raise ValidationError(f"{host!r} is not a host or host:port.")
        try:
            parse_host_port(host)
        except ValueError as exc:
            raise ValidationError(f"{host!r} is not a host or host:port ({exc}).") from None


def _networks(value: list) -> None:
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError as exc:
            raise ValidationError(f"{item!r} is not an IP address or network.") from exc


COMMON = {
    "recording_hosts": Setting(
        list,
        "Hosts (host or host:port) recordings may be fetched from; a private address "
        "only as host:port, and only if the deployment allows it too.",
    ),
    "callback_ip_allowlist": Setting(list, "IPs or networks callbacks must come from."),
    "max_bindings_per_x": Setting(int, "Cap of active bindings per X number.", min_value=1),
}

PER_VENDOR: dict[str, dict[str, Setting]] = {
    "ccp": {
        "format": Setting(str, "Request/response format.", choices=("json", "xml")),
        "platform_mac": Setting(str, "MAC the platform sends in Base64(MAC:AuthToken)."),
    },
    "igw": {},
    "huawei": {
        "push_signature": Setting(
            str,
            "Push signature check: require (default: refuse unsigned, wrong, stale or "
            "replayed pushes with 401), verify (check and record the verdict but accept, "
            "while migrating an account); off is the old name of verify.",
            choices=("require", "verify", "off"),
        ),
        "push_window_seconds": Setting(int, "Allowed skew of a push's Created.", min_value=1),
        "display_number": Setting(str, "Default displayNbr for voice codes."),
    },
    "cyj": {},
}

CHECKS = {"recording_hosts": _hosts, "callback_ip_allowlist": _networks}


def allowed_settings(vendor: str) -> dict[str, Setting]:
    return {**COMMON, **PER_VENDOR.get(vendor, {})}


def validate_extra(vendor: str, extra: Any) -> dict:
    """Return `extra` if valid for `vendor`, else raise ValidationError naming each problem."""
    if extra in (None, ""):
        return {}
    if not isinstance(extra, dict):
        raise ValidationError("Extra settings must be a JSON object.")
    allowed = allowed_settings(vendor)
    errors = []
    for key, value in extra.items():
        setting = allowed.get(key)
        if setting is None:
            errors.append(f"Unknown setting {key!r} for {vendor}; allowed: {', '.join(allowed)}.")
            continue
        if not isinstance(value, setting.kind) or isinstance(value, bool) != (setting.kind is bool):
            errors.append(f"{key!r} must be a {setting.kind.__name__}.")
            continue
        if setting.choices and value not in setting.choices:
            errors.append(f"{key!r} must be one of {', '.join(setting.choices)}.")
        if setting.min_value is not None and value < setting.min_value:
            errors.append(f"{key!r} must be at least {setting.min_value}.")
        if key in CHECKS:
            try:
                CHECKS[key](value)
            except ValidationError as exc:
                errors.extend(f"{key!r}: {m}" for m in exc.messages)
    if errors:
        raise ValidationError(errors)
    return extra
