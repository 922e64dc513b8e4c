"""The API's masked fields: numbers and free text, per the requesting user."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from core.serializers import MaskedNumberField, MaskedTextField

pytestmark = pytest.mark.django_db


class Row(serializers.Serializer):
    number = MaskedNumberField()
    note = MaskedTextField(required=False, allow_blank=True)


def _context(user) -> dict:
    request = APIRequestFactory().get("/")
    request.user = user
    return {"request": request}


ROW = {"number": "+8613812340021", "note": "call back on 13812340021 or 010-62345678"}


def test_users_without_full_numbers_get_them_masked(staff_user):
    data = Row(ROW, context=_context(staff_user)).data
    assert data == {"number": "138****0021", "note": "call back on 138****0021 or 010****5678"}


def test_operators_get_them_whole(operator):
    data = Row(ROW, context=_context(operator)).data
    assert data == {"number": "13812340021", "note": ROW["note"]}


def test_without_a_request_everything_is_masked():
    assert Row(ROW).data["number"] == "138****0021"
    assert "13812340021" not in Row(ROW).data["note"]


def test_writes_are_taken_as_sent(staff_user):
    row = Row(data=ROW, context=_context(staff_user))
    assert row.is_valid(), row.errors
    assert row.validated_data == ROW
