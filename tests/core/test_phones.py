import pytest
from django.core.exceptions import ValidationError

from core.phones import display_number, mask_number, national_number, normalize_number
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
