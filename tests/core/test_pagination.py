"""Keyset pages (core.pagination): every row once, in order, both ways, through ties;
cursors that are not ours are a field error; estimates are not counts."""

import pytest
from django.core.exceptions import ValidationError

from callbacks.models import CallRecord
from core import pagination
from tests.factories import CallRecordFactory, VendorAccountFactory

pytestmark = pytest.mark.django_db


def _walk(queryset, size):
    """Rows page by page following next cursors, then back following previous ones."""
    pages, cursor = [], None
    while True:
        page = pagination.keyset_page(queryset, cursor=cursor, size=size)
        pages.append([r.pk for r in page])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    back, cursor = [], page.previous_cursor
    while cursor:
        page = pagination.keyset_page(queryset, cursor=cursor, size=size)
        back.insert(0, [r.pk for r in page])
        cursor = page.previous_cursor
    return pages, back


@pytest.mark.parametrize("order", [("-duration", "-id"), ("duration", "id"), ("-call_at", "-id")])
def test_pages_cover_every_row_once_in_order_through_ties(order):
    account = VendorAccountFactory(vendor="igw")
    for duration in (0, 0, 0, 0, 0, 7, 7, 30, 0, 61, 7):  # many ties, as in real traffic
        CallRecordFactory(vendor_account=account, duration=duration)
    queryset = CallRecord.objects.order_by(*order)
    expected = list(queryset.values_list("pk", flat=True))
    pages, back = _walk(queryset, size=3)
    assert [pk for page in pages for pk in page] == expected
    assert all(len(page) == 3 for page in pages[:-1])
    assert back == pages[:-1]  # previous links lead back through the same pages


def test_the_model_ordering_is_used_when_the_queryset_has_none():
    account = VendorAccountFactory(vendor="igw")
    for _ in range(5):
        CallRecordFactory(vendor_account=account)
    pages, _ = _walk(CallRecord.objects.all(), size=2)
    assert [pk for page in pages for pk in page] == list(
        CallRecord.objects.order_by("-call_at", "-id").values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "zzz",
        "e30",  # {}
        pagination.encode_cursor(["not a time", 3]),
        pagination.encode_cursor(["2026-01-01T00:00:00+00:00"]),  # one key short
        pagination.encode_cursor(["2026-01-01T00:00:00+00:00", None]),
        pagination.encode_cursor(["2026-01-01T00:00:00+00:00", 10**30]),
        pagination.encode_cursor(["2026-02-30T00:00:00+00:00", 1]),
        "\x00",
        "x" * 600,
    ],
)
def test_a_cursor_that_is_not_ours_is_a_field_error(cursor):
    with pytest.raises(ValidationError) as caught:
        pagination.keyset_page(CallRecord.objects.order_by("-call_at", "-id"), cursor=cursor)
    assert "cursor" in caught.value.message_dict


def test_estimates_are_rounded_and_unfiltered_ones_come_from_statistics():
    from django.db import connection

    account = VendorAccountFactory(vendor="igw")
    for _ in range(3):
        CallRecordFactory(vendor_account=account)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_callrecord")
    assert pagination.estimated_count(CallRecord.objects.all()) == 3
    assert pagination.estimated_count(CallRecord.objects.filter(duration__gt=10**6)) >= 0
    assert [pagination.about(n) for n in (7, 1234, 9_876_543)] == [7, 1200, 9_900_000]
