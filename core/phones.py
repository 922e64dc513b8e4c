"""Phone numbers: one stored form (E.164), and masked display.

Chinese mobiles arrive as 13800138000, +8613800138000 or 008613800138000; fixed
lines with their area code (010-12345678, 075528000001). All become E.164.
"""

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


def national_number(e164: str) -> str:
    """The digits a Chinese vendor expects: 13800138000, or 075528000001 for fixed lines."""
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code != 86:
        return e164
    digits = str(parsed.national_number)
    number_type = phonenumbers.number_type(parsed)
    if number_type in (phonenumbers.PhoneNumberType.MOBILE,):
        return digits
    return "0" + digits


def mask_number(number: str) -> str:
    """138****0021: keep the first three and last four digits of the national form."""
    digits = national_number(number) if number.startswith("+") else number
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def display_number(number: str, user) -> str:
    """The number as `user` may see it: whole with view_full_numbers, masked otherwise."""
    if not number:
        return ""
    if user is not None and user.has_perm("accounts.view_full_numbers"):
        return national_number(number)
    return mask_number(number)
