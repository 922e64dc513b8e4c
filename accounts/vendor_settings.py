"""The `extra` settings of a VendorAccount: the ones every account has, plus the
ones its vendor's client class declares (`VendorClient.account_settings`), and
their validation as Django ValidationErrors.

Unknown keys are refused so a typo never silently does nothing.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

import vendors
from vendors.account_settings import Setting
from vendors.outbound import parse_host_port

__all__ = ["COMMON", "Setting", "allowed_settings", "validate_extra", "vendor_settings"]


def _hosts(value: list) -> None:
    for host in value:
        if not isinstance(host, str) or not host or "/" in host or " " in host:
            raise ValueError(f"{host!r} is not a host or host:port.")
        try:
            parse_host_port(host)
        except ValueError as exc:
            raise ValueError(f"{host!r} is not a host or host:port ({exc}).") from None


def _networks(value: list) -> None:
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network.") from None


COMMON = {
    "recording_hosts": Setting(
        list,
        "Hosts (host or host:port) recordings may be fetched from; a private address "
        "only as host:port, and only if the deployment allows it too.",
        check=_hosts,
    ),
    "callback_ip_allowlist": Setting(
        list, "IPs or networks callbacks must come from.", check=_networks
    ),
    "max_bindings_per_x": Setting(int, "Cap of active bindings per X number.", min_value=1),
}


def vendor_settings() -> dict[str, Mapping[str, Setting]]:
    """Each registered vendor's own settings, keyed by vendor code."""
    return {code: cls.account_settings for code, cls in vendors.REGISTRY.items()}


def allowed_settings(vendor: str) -> dict[str, Setting]:
    cls = vendors.REGISTRY.get(vendor)
    return {**COMMON, **(cls.account_settings if cls is not None else {})}


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
        else:
            errors.extend(setting.problems(key, value))
    if errors:
        raise ValidationError(errors)
    return extra
