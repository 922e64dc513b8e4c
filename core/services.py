"""Write helpers that belong to no single app."""

from collections.abc import Iterable, Mapping
from typing import Any


def model_update(instance, *, fields: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Set `fields` on `instance` (not saved) and return their names for `update_fields`.

    Every partial-update service names the fields it lets change in `allowed`; any
    other name is the caller's mistake, refused like an unexpected keyword argument.
    """
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(
            f"{type(instance).__name__} fields that may not change here: "
            f"{', '.join(sorted(unknown))}"
        )
    for name, value in fields.items():
        setattr(instance, name, value)
    return list(fields)
