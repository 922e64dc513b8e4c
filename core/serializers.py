"""Serializer fields shared by the APIs: phone numbers and free text, masked per user.

The one way an API shows a number: a `MaskedNumberField` (whole for users with
accounts.view_full_numbers, 138****0021 for the rest, and for a serializer used
without a request), and free text that may carry numbers (vendor messages,
history, errors) through a `MaskedTextField`. Both read the user from the
serializer context's request and accept writes like a plain CharField.
"""

from rest_framework import serializers

from core.phones import display_number, display_text


def _context_user(context: dict):
    request = context.get("request")
    return getattr(request, "user", None)


class MaskedNumberField(serializers.CharField):
    """A phone number as the requesting user may see it."""

    def to_representation(self, value) -> str:
        return display_number(str(value or ""), _context_user(self.context))


class MaskedTextField(serializers.CharField):
    """Free text with the numbers in it masked unless the requesting user may see them."""

    def to_representation(self, value) -> str:
        return display_text(str(value or ""), _context_user(self.context))
