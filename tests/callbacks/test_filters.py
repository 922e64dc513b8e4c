"""The call-record filters (callbacks/filters.py) as pages, the CSV export and the
API apply them: complete numbers for everyone, fragments only with view_full_numbers,
unusable values refused with a message naming them."""

import csv
import io

import factory
import pytest
from django.urls import reverse

from tests.factories import (
    BindingFactory,
    ReviewedCallFactory,
    TwoWayCallFactory,
    VendorAccountFactory,
    VoiceCodeFactory,
)

pytestmark = pytest.mark.django_db


def _search(client, url_name: str, q: str) -> list[str]:
    return [r.call_id for r in client.get(reverse(url_name), {"q": q}).context["page"]]


@pytest.mark.parametrize("fragment", ["8021", "138", "0013", "138****8021", "3800138021"])
def test_staff_cannot_find_a_call_by_a_fragment_of_its_number(staff_client, igw_account, fragment):
    ReviewedCallFactory(vendor_account=igw_account, call_id="c1", caller="+8613800138021")
    assert _search(staff_client, "callbacks:call_record_list", fragment) == []
    export = staff_client.get(reverse("callbacks:call_record_export"), {"q": fragment})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[1:] == []


@pytest.mark.parametrize("number", ["13800138021", "+86 138 0013 8021", "008613800138021"])
def test_staff_find_a_call_by_its_complete_number(staff_client, staff_api, igw_account, number):
    ReviewedCallFactory(vendor_account=igw_account, call_id="c1", caller="+8613800138021")
    ReviewedCallFactory(vendor_account=igw_account, call_id="c2", caller="+8613800138022")
    assert _search(staff_client, "callbacks:call_record_list", number) == ["c1"]
    export = staff_client.get(reverse("callbacks:call_record_export"), {"q": number})
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert [row[3] for row in csv.reader(io.StringIO(body))][1:] == ["c1"]
    api = staff_api.get("/api/v1/call-records/", {"q": number}).json()["results"]
    assert [row["call_id"] for row in api] == ["c1"]


def test_staff_api_search_by_fragment_finds_nothing(staff_api, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="c1", caller="+8613800138021")
    for fragment in ("8021", "138"):
        response = staff_api.get("/api/v1/call-records/", {"q": fragment})
        assert response.status_code == 200 and response.json()["results"] == []


def test_operators_search_by_fragment(operator_client, operator_api, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="c1", caller="+8613800138021")
    ReviewedCallFactory(
        vendor_account=igw_account, call_id="c2", caller="+8613900139000", callee="+8613700137000"
    )
    assert _search(operator_client, "callbacks:call_record_list", "8021") == ["c1"]
    api = operator_api.get("/api/v1/call-records/", {"q": "138"}).json()["results"]
    assert [row["call_id"] for row in api] == ["c1"]


def test_staff_still_find_a_call_by_its_id(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="call-42")
    assert _search(staff_client, "callbacks:call_record_list", "call-42") == ["call-42"]


@pytest.mark.parametrize(
    "params",
    [
        {"vendor_account": "²"},
        {"vendor_account": "abc"},
        {"vendor_account": "99999999999999999999"},
        {"binding": "²"},
        {"q": "\x00"},
        {"outcome": "\x00"},
        {"date_from": "2024-02-30"},
        {"date_to": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_unusable_filters_are_a_form_error_a_400_or_an_api_400(
    operator_client, operator_api, igw_account, params
):
    ReviewedCallFactory(vendor_account=igw_account)
    page = operator_client.get(reverse("callbacks:call_record_list"), params)
    assert page.status_code == 200
    assert list(page.context["page"]) == []
    (field,) = params
    assert f"{field}: " in page.content.decode()
    export = operator_client.get(reverse("callbacks:call_record_export"), params)
    assert export.status_code in (400, 403)  # operators may not export: still no 500
    api = operator_api.get("/api/v1/call-records/", params)
    assert api.status_code == 400
    assert field in api.json()["extra"]["fields"]


def test_export_with_an_unusable_filter_is_a_400_naming_it(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account)
    response = staff_client.get(reverse("callbacks:call_record_export"), {"vendor_account": "²"})
    assert response.status_code == 400
    assert "vendor_account" in response.content.decode()


def test_delivery_list_refuses_unusable_filters(operator_client, igw_account):
    response = operator_client.get(reverse("callbacks:delivery_list"), {"vendor_account": "²"})
    assert response.status_code == 200
    assert "vendor_account: " in response.content.decode()


def _ids(client, **params) -> list[str]:
    return [
        r.call_id for r in client.get(reverse("callbacks:call_record_list"), params).context["page"]
    ]


def test_a_complete_number_matches_any_party(staff_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="as-caller", caller="+8613800138021")
    ReviewedCallFactory(vendor_account=igw_account, call_id="as-callee", callee="+8613800138021")
    ReviewedCallFactory(vendor_account=igw_account, call_id="as-x", x_number="+8613800138021")
    ReviewedCallFactory(vendor_account=igw_account, call_id="other")
    found = _ids(staff_client, number="138 0013 8021")
    assert sorted(found) == ["as-callee", "as-caller", "as-x"]


def test_a_busy_x_number_walks_the_order_and_finds_the_same_calls(
    staff_client, igw_account, monkeypatch
):
    """calls_of_number: a customer's number collects its few ids first; an X number
    with many calls (per the rollups) is found walking the list's order. Same calls."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from callbacks.rollups import rollup_refresh

    x, customer = "+8617000000001", "+8613800138021"
    busy = ReviewedCallFactory.create_batch(
        60, vendor_account=igw_account, x_number=x, call_id=factory.Sequence(lambda n: f"x{n}")
    )
    ReviewedCallFactory(vendor_account=igw_account, call_id="customer", caller=customer)
    ReviewedCallFactory(vendor_account=igw_account, call_id="both", caller=customer, x_number=x)
    # The table's statistics stand for its size at scale; a test table's are whatever
    # earlier tests left (ANALYZE here would outlive the test's transaction).
    monkeypatch.setattr("callbacks.filters.estimated_count", lambda records: records.count())

    def search(number: str) -> tuple[list[str], bool]:
        with CaptureQueriesContext(connection) as queries:
            found = _ids(staff_client, number=number, sort="-call_at")
        page_sql = [q["sql"] for q in queries.captured_queries if "LIMIT 51" in q["sql"]]
        return found, "ANY(ARRAY(" in page_sql[0]

    assert search(customer) == (["both", "customer"], True)
    found, ids_first = search(x)
    assert ids_first  # not yet known as a busy X: ids first
    rollup_refresh(
        since=busy[0].call_at - timedelta(hours=1), until=busy[0].call_at + timedelta(hours=1)
    )
    assert search(x) == (found, False)  # 61 of 62 calls as X: walks the call-time order
    assert len(found) == 50 and found[0] == "both"  # a page of its 61, newest first
    assert search(customer) == (["both", "customer"], True)


def test_duration_release_side_and_sort(staff_client, igw_account):
    for call_id, duration, side in (
        ("short", 5, "caller"),
        ("long", 300, "callee"),
        ("mid", 60, ""),
    ):
        ReviewedCallFactory(
            vendor_account=igw_account, call_id=call_id, duration=duration, release_side=side
        )
    assert _ids(staff_client, duration_min=6, sort="duration") == ["mid", "long"]
    assert _ids(staff_client, duration_max=60, sort="-duration") == ["mid", "short"]
    assert _ids(staff_client, release_side="unknown") == ["mid"]
    assert _ids(staff_client, release_side="callee") == ["long"]


def test_fragments_need_three_digits(operator_client, igw_account):
    ReviewedCallFactory(vendor_account=igw_account, call_id="c1", caller="+8613800138021")
    response = operator_client.get(reverse("callbacks:call_record_list"), {"q": "21"})
    assert any("at least 3 digits" in e for e in response.context["filter_errors"])
    assert _ids(operator_client, q="021") == ["c1"]


def _listed(client, **params) -> list[str]:
    page = client.get(reverse("callbacks:call_record_list"), params)
    assert page.status_code == 200, page.content[:500]
    return sorted(r.call_id for r in page.context["page"])


def test_calls_are_found_by_what_started_them(staff_client, staff_api):
    ccp = VendorAccountFactory(vendor="ccp")
    huawei = VendorAccountFactory(vendor="huawei")
    two_way = TwoWayCallFactory(vendor_account=ccp, call_sid="cs-1")
    voice = VoiceCodeFactory(vendor_account=huawei, session_id="s-1")
    ReviewedCallFactory(vendor_account=ccp, call_id="cs-1")
    ReviewedCallFactory(vendor_account=huawei, call_id="cs-1")  # same id, other account
    ReviewedCallFactory(vendor_account=huawei, call_id="s-1")
    bound = ReviewedCallFactory(vendor_account=ccp, call_id="b-1")
    bound.binding = BindingFactory(vendor_account=ccp)
    bound.save()

    assert _listed(staff_client, started_by="two_way_call") == ["cs-1"]
    assert _listed(staff_client, started_by="voice_code") == ["s-1"]
    assert _listed(staff_client, started_by="binding") == ["b-1"]
    assert _listed(staff_client, two_way_call=two_way.pk) == ["cs-1"]
    assert _listed(staff_client, voice_code=voice.pk) == ["s-1"]
    assert _listed(staff_client, voice_code=voice.pk + 1000) == []
    api = staff_api.get("/api/v1/call-records/", {"two_way_call": two_way.pk}).json()
    assert [r["call_id"] for r in api["results"]] == ["cs-1"]
    assert staff_api.get("/api/v1/call-records/", {"started_by": "fax"}).status_code == 400
