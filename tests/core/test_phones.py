import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from core.phones import (
    display_number,
    display_text,
    mask_number,
    mask_numbers_in_text,
    national_number,
    normalize_into,
    normalize_number,
    number_display,
    text_display,
)
from tests.factories import UserFactory


@pytest.mark.parametrize(
    "raw",
    ["13800138000", "+8613800138000", "008613800138000", " 138 0013 8000 ", "+86 138-0013-8000"],
)
def test_mobile_forms_normalize_to_one_e164(raw):
    assert normalize_number(raw) == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("010-62345678", "+861062345678"), ("075528000001", "+8675528000001")],
)
def test_fixed_lines_keep_their_area_code(raw, expected):
    assert normalize_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "123", "1380013800", "+86 999"])
def test_bad_numbers_are_refused_with_a_reason(raw):
    with pytest.raises(ValidationError):
        normalize_number(raw)


def test_national_and_masked_forms():
    assert national_number("+8613800138000") == "13800138000"
    assert national_number("+861062345678") == "01062345678"
    assert mask_number("+8613812340021") == "138****0021"


@pytest.mark.django_db
def test_display_masks_unless_the_user_may_see_full_numbers(operator, staff_user):
    assert display_number("+8613812340021", operator) == "13812340021"
    assert display_number("+8613812340021", staff_user) == "138****0021"
    assert display_number("+8613812340021", UserFactory()) == "138****0021"


@pytest.mark.django_db
def test_display_functions_decide_as_display_number_and_text(operator, staff_user):
    values = ["+8613812340021", "+861062345678", "+14155550100", "", "13800138000", "x 010-1234"]
    texts = ["callee 13900139000 busy", "", "code 17"]
    for user in (operator, staff_user):
        assert [number_display(user)(v) for v in values] == [
            display_number(v, user) for v in values
        ]
        assert [text_display(user)(t) for t in texts] == [display_text(t, user) for t in texts]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812340021", "138****0021"),
        ("+8613812340021", "138****0021"),
        ("075528000001", "075****0001"),
        ("28000001", "****0001"),  # short: at least four digits stay hidden
        ("1234567", "*******"),
        ("138****0021", "138****0021"),  # already masked by the vendor
    ],
)
def test_mask_number_hides_at_least_four_digits(raw, masked):
    assert mask_number(raw) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("vendor chose 17118230001, which is not in our pool", "vendor chose 171****0001, which"),
        ("X 13811110001 不是本账号的号码", "X 138****0001 不是本账号的号码"),
        ("https://rec.example.com/rec/13811110002.mp3", "/rec/138****0002.mp3"),
        ("callee X13811110001", "callee X138****0001"),
        ("+86 138-1111-0001 or 0086 13811110001", "138****0001 or 138****0001"),
        ("+8613811110001", "138****0001"),
        ("010-62345678", "010****5678"),
        ("１３８１１１１０００１", "１３８****０００１"),  # full-width digits from Chinese text
    ],
)
def test_mask_numbers_in_text_finds_number_like_runs(text, masked):
    result = mask_numbers_in_text(text)
    assert masked in result
    assert not re.search(r"\d{7}", result.replace("*", "x"))


@pytest.mark.parametrize(
    "text",
    [
        "ended at 2026-11-29 23:15:00 on port 8883",
        "igw 1300: 资源不存在",
        "138****0021 is busy",
        "igw subid e77e92d9a46be1c551100386",
        "call 5242a47d2ff2796600f7f5be87678989 ended",
        "",
    ],
)
def test_mask_numbers_in_text_leaves_dates_codes_and_masked_numbers(text):
    assert mask_numbers_in_text(text) == text


@pytest.mark.django_db
def test_display_text_masks_unless_the_user_may_see_full_numbers(operator, staff_user):
    text = "vendor chose 17118230001"
    assert display_text(text, operator) == text
    assert display_text(text, staff_user) == "vendor chose 171****0001"
    assert display_text(text, None) == "vendor chose 171****0001"
    assert display_text(text, AnonymousUser()) == "vendor chose 171****0001"


def _unless_hex_id(token: re.Match) -> str:
    hex_id = re.fullmatch(r"(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{16,}", token.group(0))
    return "" if hex_id else token.group(0)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("ab13800138000", "ab138****8000"),  # too short to be an identifier
        ("X13811110001", "X138****0001"),
        (
            "subid 0123456789abcdef13800138000 for 13800138000",
            "subid 0123456789abcdef13800138000 for 138****8000",
        ),
    ],
)
def test_only_long_hexadecimal_identifiers_keep_their_digits(text, masked):
    assert mask_numbers_in_text(text) == masked


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789+- ()x１٣")), max_size=60) | st.text())
def test_masked_text_keeps_no_seven_digits_together_and_masks_once(text):
    masked = mask_numbers_in_text(text)
    # Long hexadecimal identifiers are left whole (see core/phones.py); nothing else.
    outside_hex_ids = re.sub(r"[0-9A-Za-z]+", _unless_hex_id, masked)
    assert not re.search(r"\d{7}", outside_hex_ids)
    assert mask_numbers_in_text(masked) == masked


def test_normalize_into_returns_e164_and_adds_no_error():
    errors: dict[str, list[str]] = {}
    assert normalize_into("138 0013 8000", field="a_number", errors=errors) == "+8613800138000"
    assert errors == {}


def test_normalize_into_gathers_the_reason_under_the_field():
    errors = {"a_number": ["earlier"]}
    assert normalize_into("12", field="a_number", errors=errors) == ""
    assert normalize_into("", field="b_number", errors=errors) == ""
    assert errors["a_number"][0] == "earlier"
    assert "'12' is not a valid number" in errors["a_number"][1]
    assert errors["b_number"] == ["Enter a phone number."]


def _parsed_national_number(e164: str) -> str:
    """national_number as it was before its fast path: always phonenumbers.parse."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code != 86:
        return e164
    digits = str(parsed.national_number)
    mobile = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    return digits if mobile else "0" + digits


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(
        [
            *("", "0", "00", "1", "11", "12", "13", "14", "15", "16", "17", "179", "1795", "18"),
            *("19", "10", "2", "20", "21", "400", "800", "95", "7", "755", "9"),
        ]
    ),
    st.text(alphabet="0123456789", min_size=0, max_size=14),
)
def test_national_number_fast_path_agrees_with_parsing(prefix, rest):
    # Carrier codes (1795x, 11xx, 12xx) and a leading 0 are what parsing strips.
    e164 = "+86" + prefix + rest
    assert national_number(e164) == _parsed_national_number(e164)
