"""GET /api/v1/call-records/: keyset pages with the list's filters, masking, events."""

import pytest

from tests.factories import CallEventFactory, ReviewedCallFactory

pytestmark = pytest.mark.django_db


def test_next_links_walk_every_matching_call_once(staff_api, igw_account):
    from core.pagination import KeysetPagination

    KeysetPagination.page_size = 2
    try:
        for i in range(5):
            ReviewedCallFactory(vendor_account=igw_account, call_id=f"a{i}", duration=i % 2)
        ReviewedCallFactory(vendor_account=igw_account, call_id="busy", outcome="busy")
        seen, url = [], "/api/v1/call-records/?outcome=answered&sort=duration"
        while url:
            body = staff_api.get(url).json()
            seen += [(row["duration"], row["call_id"]) for row in body["results"]]
            assert isinstance(body["estimated_count"], int)
            url = body["next"]
    finally:
        KeysetPagination.page_size = 50
    assert sorted(seen) == seen and len(seen) == 5 and "busy" not in {c for _, c in seen}


def test_detail_has_its_events_and_masks_numbers(staff_api, igw_account):
    record = ReviewedCallFactory(vendor_account=igw_account)
    CallEventFactory(call_record=record, kind="alerting", occurred_at=record.call_at)
    body = staff_api.get(f"/api/v1/call-records/{record.pk}/").json()
    assert body["caller"] == "138****8000"
    assert [(e["kind"], e["caller"]) for e in body["events"]] == [("alerting", "138****8000")]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "bm90IG91cnM"},
        {"duration_min": "-1"},
        {"duration_max": "9" * 30},
        {"release_side": "nobody"},
        {"sort": "caller"},
        {"number": "12"},
    ],
)
def test_unusable_parameters_are_400_naming_them(staff_api, params):
    response = staff_api.get("/api/v1/call-records/", params)
    assert response.status_code == 400
    assert set(params) <= set(response.json()["extra"]["fields"])
