"""Private helpers shared by the vendor modules: body decoding for callbacks,
typed field access that fails with InvalidPayload, time conversions, XML.

Everything that reads untrusted callback input funnels through here so that
malformed input surfaces as InvalidPayload with a message naming the field.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from .errors import InvalidPayload

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Callback bodies are small; a cap keeps a hostile body from costing much.
MAX_BODY = 1_000_000


def decode_body(body: bytes, content_type: str, *, allow_xml: bool = False) -> dict[str, Any]:
    """Decode a callback body into a dict: JSON object, form, or (ccp) XML.

    The Content-Type decides; when it is missing or generic, the first
    character does ("{" JSON, "<" XML), else form-encoded.
    """
    if len(body) > MAX_BODY:
        raise InvalidPayload(f"body too large ({len(body)} bytes)")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    text = text.strip()
    if not text:
        raise InvalidPayload("empty body")
    ctype = content_type.lower()
    if "json" in ctype or (not _declared(ctype) and text[0] in "{["):
        return _json_object(text)
    if "xml" in ctype or (not _declared(ctype) and text[0] == "<"):
        if not allow_xml:
            raise InvalidPayload("XML body where JSON or form data was expected")
        return xml_to_dict(text)
    return _form(text)


def _declared(ctype: str) -> bool:
    return "json" in ctype or "xml" in ctype or "x-www-form-urlencoded" in ctype


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"body is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidPayload(f"JSON body must be an object, got {type(value).__name__}")
    return value


def _form(text: str) -> dict[str, Any]:
    return dict(_form_fields(text))  # a copy: the cached dict is shared


# A delivery's body is decoded twice, by authenticate_callback (igw reads devid
# from it) and by parse_callback; form values are flat strings, so a shallow
# copy of the cached dict is a fresh result.  Bounded and per process.
@lru_cache(maxsize=32)
def _form_fields(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InvalidPayload(f"body is not form-encoded ({exc})") from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        fields.setdefault(key, value)  # first wins: repeated keys are not documented
    return fields


def xml_to_dict(text: str | bytes) -> dict[str, Any]:
    """Parse XML into nested dicts: leaf -> text, repeated tags -> list.

    DOCTYPE/ENTITY declarations are refused outright: no vendor sends them
    and they are how entity-expansion attacks start.
    """
    probe = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if "<!DOCTYPE" in probe.upper() or "<!ENTITY" in probe.upper():
        raise InvalidPayload("XML with DOCTYPE/ENTITY declarations is refused")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise InvalidPayload(f"body is not valid XML ({exc})") from None
    value = _element(root)
    return value if isinstance(value, dict) else {}


def _element(elem: ET.Element) -> Any:
    children = list(elem)
    if not children:
        return (elem.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def dict_to_xml(root: str, fields: Mapping[str, Any], *, item_tags: Mapping[str, str]) -> bytes:
    """Build an XML request body; list values become <key><item>…</item></key>
    with the item tag from `item_tags` (cloopen style, e.g. datas/data)."""
    elem = ET.Element(root)
    for key, value in fields.items():
        child = ET.SubElement(elem, key)
        if isinstance(value, list | tuple):
            for item in value:
                ET.SubElement(child, item_tags.get(key, "item")).text = str(item)
        else:
            child.text = str(value)
    return ET.tostring(elem, encoding="utf-8", xml_declaration=True)


# ------------------------------------------------------------------ fields


def get_str(fields: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    """A scalar field as str ("" when absent); InvalidPayload if it is a
    container, or absent/empty while required."""
    value = fields.get(key)
    if value is None or value == "":
        if required:
            raise InvalidPayload(f"missing required field {key!r}")
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidPayload(f"field {key!r} must be a scalar, got {type(value).__name__}")


def get_int(fields: Mapping[str, Any], key: str, *, default: int = 0) -> int:
    """An integer field given as number or digit string."""
    value = fields.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidPayload(f"field {key!r} must be an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit() and stripped.isascii() and len(stripped) < 20:
            return int(stripped)
    raise InvalidPayload(f"field {key!r} must be an integer, got {value!r:.40}")


def get_dict(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = fields.get(key)
    if not isinstance(value, dict):
        raise InvalidPayload(f"field {key!r} must be an object")
    return value


# ------------------------------------------------------------------ time


def from_epoch(seconds: int, *, key: str) -> datetime | None:
    """Epoch seconds -> aware UTC datetime; 0 (igw's "not set") -> None."""
    if seconds == 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidPayload(f"field {key!r}: timestamp {seconds} out of range") from None


def parse_time(value: str, formats: tuple[str, ...], tz: Any, *, key: str) -> datetime | None:
    """Parse a local-time string in one of `formats`, attach `tz`, return
    it in UTC; "" -> None."""
    if not value:
        return None
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz).astimezone(UTC)
        except ValueError:
            continue
    raise InvalidPayload(f"field {key!r}: {value!r:.40} does not match {' or '.join(formats)}")


def aware(now: datetime | None) -> datetime:
    """`now` or the current time, always aware (naive input is taken as UTC)."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup that also works on a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return ""
