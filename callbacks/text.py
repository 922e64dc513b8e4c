"""Text hygiene for what vendors send: every string stored from a callback goes
through `_text` (PostgreSQL refuses NUL and lone surrogates), raw dicts through
`_json_safe`, phone numbers through `_number` (E.164 when they parse).
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError

from core.phones import normalize_number


def _text(value: Any, limit: int | None = None) -> str:
    """A str PostgreSQL accepts: no NUL, no lone surrogates; cut to `limit`."""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit else text


def _json_safe(value: Any, depth: int = 0) -> Any:
    """Vendor `raw` dicts, cleaned the same way for jsonb (keys included)."""
    if depth > 40:
        return None
    if isinstance(value, dict):
        return {_text(k, 200): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool | None):
        return value
    if isinstance(value, int):
        # jsonb numerics are arbitrary precision, but keep absurd ints readable.
        return value if abs(value) < 10**30 else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return _text(value)


def _number(raw: str) -> str:
    """E.164 when the number parses, else the raw text (masked numbers, short codes)."""
    raw = _text(raw, 64).strip()
    if not raw:
        return ""
    return _normalized(raw)


@lru_cache(maxsize=4096)
def _normalized(raw: str) -> str:
    # A pure function of its input (fixed region, phonenumbers' static metadata),
    # and vendors repeat the same X numbers and callers: ~0.1 ms saved per hit.
    try:
        return normalize_number(raw)
    except ValidationError:
        return raw


def failure_text(exc: BaseException) -> tuple[str, str]:
    """(reason, traceback) of the exception being handled, as a delivery keeps them."""
    return _text(f"{type(exc).__name__}: {exc}", 2000), _text(traceback.format_exc(), 20000)
