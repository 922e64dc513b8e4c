"""Per-account settings a vendor client reads from `extra`: what each key means
and how it is checked.  Plain Python: the console adapts these to Django's
ValidationError (accounts/vendor_settings.py).

A client class declares its own in `VendorClient.account_settings`; the console
adds the settings every account has.  Unknown keys are refused there, so a typo
never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Setting"]


@dataclass(frozen=True)
class Setting:
    """One key of `extra`: its type, the help an operator reads, and its checks.

    `check` raises ValueError (its message is shown) for a value of the right
    type that is still unusable.
    """

    kind: type
    help: str
    choices: tuple = ()
    min_value: int | None = None
    check: Callable[[Any], None] | None = None

    def problems(self, key: str, value: Any) -> list[str]:
        """What is wrong with `value` for `key` ([] when it is usable)."""
        # bool is an int in Python: only a bool setting takes true/false.
        if not isinstance(value, self.kind) or isinstance(value, bool) != (self.kind is bool):
            return [f"{key!r} must be a {self.kind.__name__}."]
        found = []
        if self.choices and value not in self.choices:
            found.append(f"{key!r} must be one of {', '.join(map(str, self.choices))}.")
        if self.min_value is not None and value < self.min_value:
            found.append(f"{key!r} must be at least {self.min_value}.")
        if self.check is not None:
            try:
                self.check(value)
            except ValueError as exc:
                found.append(f"{key!r}: {exc}")
        return found
