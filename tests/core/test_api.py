"""The one API error shape, for the errors services raise."""

from django.core.exceptions import ValidationError

from core.api import exception_handler


def test_service_field_errors_become_a_400_with_fields():
    response = exception_handler(ValidationError({"a_number": ["Enter a phone number."]}), {})
    assert response.status_code == 400
    assert response.data == {
        "message": "Validation error",
        "extra": {"fields": {"a_number": ["Enter a phone number."]}},
    }


def test_service_errors_without_a_field_land_in_non_field_errors():
    response = exception_handler(ValidationError("The account is disabled."), {})
    assert response.status_code == 400
    assert response.data["extra"]["fields"] == {"non_field_errors": ["The account is disabled."]}
