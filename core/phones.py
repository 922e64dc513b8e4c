"""Phone numbers: one stored form (E.164), and masked display.

Chinese mobiles arrive as 13800138000, +8613800138000 or 008613800138000; fixed
lines with their area code (010-12345678, 075528000001). All become E.164.

Users without accounts.view_full_numbers see every number masked (138****0021):
number fields through `display_number`, and numbers inside free text (history,
vendor messages, errors, URLs) through `display_text`. Pages use the `phone` tag
and the `masked_text` filter (core/templatetags/console.py), the API the fields
of core/serializers.py; nothing else decides who sees what.
"""

import re
from collections.abc import Callable

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "CN"


def normalize_number(raw: str) -> str:
    """Return the E.164 form of `raw`, or raise ValidationError saying why not."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{raw!r} is not a phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            f"{raw!r} is not a valid number (a mobile, or a fixed line with its area code)."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_into(raw: str, *, field: str, errors: dict[str, list[str]]) -> str:
    """The E.164 form of `raw`, or "" with the reasons added to `errors[field]`.

    For services that gather every field's errors before raising one ValidationError.
    """
    try:
        return normalize_number(raw)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return ""


# "+86" and digits that China's national-prefix rule (a leading 0, or a carrier code
# such as 17951) cannot strip: phonenumbers.parse would return exactly these digits
# as the national number. Building the number directly skips ~20 µs of parsing, which
# CSV exports pay for every distinct number of a million rows.
_CN_E164 = re.compile(r"\+86(\d{2,15})")
_CN_STRIPPABLE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").national_prefix_for_parsing
)


def _desc_pattern(desc) -> str | None:
    """A PhoneNumberDesc as one regular expression for fullmatch: its national number
    pattern, held to its possible lengths when it lists any (as phonenumbers does)."""
    possible = desc.possible_length if desc is not None else ()
    if desc is None or not desc.national_number_pattern or possible == (-1,):
        return None  # (-1,): a type with no numbers in this region
    lengths = "|".join(f"\\d{{{n}}}" for n in possible or ())
    held = f"(?=(?:{lengths})\\Z)" if lengths else ""
    return f"(?:{held}(?:{desc.national_number_pattern}))"


_CN = phonenumbers.PhoneMetadata.metadata_for_region("CN")
# phonenumbers.number_type's steps for China, compiled once (it looks each pattern up
# in a cache on every call: ~60 µs a number, which a CSV export of a million calls
# pays for every distinct number). A number is a mobile when it fits the general and
# mobile patterns and none of those number_type tries before mobile.
_NOT_MOBILE = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number")
_NOT_MOBILE += ("pager", "uan", "voicemail", "fixed_line")
_CN_NOT_MOBILE = "|".join(p for name in _NOT_MOBILE if (p := _desc_pattern(getattr(_CN, name))))
# One pattern for the three tests (fits general, fits none of the others, fits
# mobile): one fullmatch a number instead of three.
_CN_MOBILE = re.compile(
    f"(?=(?:{_desc_pattern(_CN.general_desc) or '(?!)'})\\Z)"
    f"(?!(?:{_CN_NOT_MOBILE or '(?!)'})\\Z)"
    f"(?:{_desc_pattern(_CN.mobile) or '(?!)'})"
)


def _cn_mobile(digits: str) -> bool:
    """phonenumbers.number_type(...) == MOBILE for a +86 national number."""
    if _CN.same_mobile_and_fixed_line_pattern:  # never so for China; then ask the library
        parsed = phonenumbers.PhoneNumber(country_code=86, national_number=int(digits))
        return phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    return _CN_MOBILE.fullmatch(digits) is not None


def national_number(e164: str) -> str:
    """The digits a Chinese vendor expects: 13800138000, or 075528000001 for fixed lines."""
    if not e164:
        return ""
    match = _CN_E164.fullmatch(e164)
    if match and not _CN_STRIPPABLE.match(match.group(1)):
        # What parsing would return: no national prefix or carrier code to strip.
        digits = match.group(1)
        return digits if _cn_mobile(digits) else "0" + digits
    try:
        parsed = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code != 86:
        return e164
    digits = str(parsed.national_number)
    # The type is that of the significant number, leading zeros parsing kept included.
    significant = phonenumbers.national_significant_number(parsed)
    return digits if _cn_mobile(significant) else "0" + digits


def mask_number(number: str) -> str:
    """138****0021: keep the first three and last four digits of the national form.

    Shorter values keep less, so at least four digits stay hidden: 8 to 10
    characters keep the last four (****5678), 7 or fewer keep nothing.
    """
    digits = national_number(number) if number.startswith("+") else number
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return f"****{digits[-4:]}"
    return "*" * len(digits)


def may_see_full_numbers(user) -> bool:
    """True when `user` holds accounts.view_full_numbers; None (no request) may not."""
    return user is not None and user.has_perm("accounts.view_full_numbers")


def number_display(user) -> Callable[[str], str]:
    """`display_number(·, user)` as one function, the permission looked up once (an
    export formats millions of numbers)."""
    return national_number if may_see_full_numbers(user) else mask_number


def display_number(number: str, user) -> str:
    """The number as `user` may see it: whole with view_full_numbers, masked otherwise."""
    if not number:
        return ""
    if may_see_full_numbers(user):
        return national_number(number)
    return mask_number(number)


# A run of digits, optionally led by "+", whose groups may be split by one space
# or dash when the next group has 3+ digits: "+86 138-1111-0001", "010-12345678".
# The 3-digit rule keeps dates (2026-11-29) and times apart; runs glued to letters
# (X13811110001, /rec/13811110001.mp3) still match: masking too much beats a leak.
_NUMBER_LIKE = re.compile(r"\+?\d+(?:[ \-]\d{3,})*")
# The one exception: a long hexadecimal identifier (igw subid, call ids: 16+ hex
# characters with at least one letter) is not a phone number, and staff need it whole
# to look a call up with the vendor; masking a digit run inside it only garbles it.
_TOKEN_CHAR = re.compile(r"[0-9A-Za-z]")
_HEX_ID = re.compile(r"(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{16,}")
# Shorter runs are codes (vendor result codes, ports, years), not phone numbers.
MIN_TEXT_DIGITS = 7


def _inside_hex_id(match: re.Match) -> bool:
    text, start, end = match.string, match.start(), match.end()
    while start > 0 and _TOKEN_CHAR.match(text[start - 1]):
        start -= 1
    while end < len(text) and _TOKEN_CHAR.match(text[end]):
        end += 1
    return _HEX_ID.fullmatch(text, start, end) is not None


def _mask_run(match: re.Match) -> str:
    run = match.group(0)
    digits = re.sub(r"\D", "", run)
    if len(digits) < MIN_TEXT_DIGITS or _inside_hex_id(match):
        return run
    if run.startswith("+"):
        return mask_number("+" + digits)
    if digits.startswith("00"):  # international prefix: mask the national form
        return mask_number("+" + digits[2:])
    return mask_number(digits)


def mask_numbers_in_text(text: str) -> str:
    """`text` with every number-like run of 7+ digits masked like `mask_number`.

    Errs on the side of masking: a long id or a byte count is masked too, since
    free text from vendors and errors has no structure that says what a number is.
    """
    if not text:
        return ""
    return _NUMBER_LIKE.sub(_mask_run, text)


def text_display(user) -> Callable[[str], str]:
    """`display_text(·, user)` as one function, the permission looked up once."""
    return str if may_see_full_numbers(user) else mask_numbers_in_text


def display_text(text: str, user) -> str:
    """Free text as `user` may see it: unchanged with view_full_numbers, numbers masked
    otherwise."""
    if not text:
        return ""
    if may_see_full_numbers(user):
        return text
    return mask_numbers_in_text(text)
