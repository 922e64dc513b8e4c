"""Every console page's query parameters, fuzzed: whatever a browser sends, no 5xx.

Each page lists the parameters it reads. A fixed sweep sends every known-bad value
(NUL, `²`, an encoded lone surrogate, huge and negative integers, impossible dates,
very long text) to every parameter alone, so no other parameter's error can hide
it; hypothesis then draws combinations. The Django test client re-raises a view's
exception, so a 500 fails here with its traceback.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from django.contrib import admin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import (
    BindingFactory,
    CallRecordFactory,
    DeliveryFactory,
    PrivacyNumberFactory,
    VendorAccountFactory,
)

NASTY: list[bytes] = [
    b"\x00",
    b"1\x00",
    "²".encode(),  # str.isdigit() says yes, int() says no
    "١٢".encode(),  # Arabic-Indic digits: int() accepts them
    b"\xed\xa0\x80",  # a lone surrogate, UTF-8 encoded
    b"\xff\xfe",
    b"99999999999999999999",
    b"-99999999999999999999",
    b"-1",
    b"1e400",
    b"NaN",
    b"9" * 5000,
    b"x" * 5000,
    b"2024-02-30",
    b"9999-12-31T23:59:59-14:00",
    b"0001-01-01T00:00:00+14:00",
    b"13800138021",
    b"",
]

# The fixed sweep: one of each kind of trouble (NASTY as a whole goes to hypothesis).
SWEEP: list[bytes] = [
    b"1\x00",
    "²".encode(),
    b"\xed\xa0\x80",
    b"99999999999999999999",
    b"-99999999999999999999",
    b"9" * 5000,
    b"x" * 5000,
    b"0001-01-01T00:00:00+14:00",
    b"13800138021",
    b"100%",  # django-filter formats its API errors with %
]

VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.binary(max_size=24),
    st.text(max_size=24).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers().map(lambda i: str(i).encode()),
)

# path -> the query parameters the page reads ("page" is the paginator's).
PAGES: dict[str, list[str]] = {
    "/": [],
    "/accounts/vendor-accounts/": ["vendor", "enabled", "q", "page"],
    "/accounts/numbers/": ["vendor_account", "status", "area_code", "q", "page"],
    "/privacy/bindings/": [
        "state",
        "kind",
        "vendor_account",
        "x_id",
        "x",
        "a",
        "b",
        "q",
        "expiring_within",
        "expiring_before",
        "page",
    ],
    "/privacy/pool/": ["vendor_account", "area_code", "page"],
    "/calls/": [
        "vendor_account",
        "vendor",
        "outcome",
        "date_from",
        "date_to",
        "q",
        "has_recording",
        "binding",
        "number",
        "duration_min",
        "duration_max",
        "release_side",
        "sort",
        "cursor",
    ],
    "/calls/export.csv": ["vendor_account", "outcome", "date_from", "date_to", "q", "binding"],
    "/calls/gaps/": ["page"],
    "/calls/dashboard/": ["period", "from", "to", "vendor_account"],
    "/calls/health/": ["vendor_account", "flagged", "page"],
    "/calls/deliveries/": ["outcome", "vendor_account", "kind", "page"],
    "/sandbox/": ["vendor", "verdict", "page"],
    "/sandbox/api/bindings/": ["state", "account"],
    "/sandbox/api/calls/": ["status", "account"],
    "/sandbox/api/requests/": ["vendor", "verdict"],
    "/api/v1/bindings/": [
        "state",
        "kind",
        "vendor_account",
        "x",
        "a",
        "b",
        "q",
        "expiring_within",
        "expiring_before",
        "limit",
    ],
    "/api/v1/stats/": ["period", "from", "to", "vendor_account"],
    "/api/v1/call-records/": ["vendor_account", "date_from", "q", "binding", "limit", "offset"],
    "/api/v1/numbers/": ["vendor_account", "status", "q", "limit", "offset"],
    "/api/v1/vendor-accounts/": ["vendor", "enabled", "limit", "offset"],
}


def _admin_pages() -> dict[str, list[str]]:
    """Every admin changelist with its search, ordering, page and list filters."""
    pages = {}
    for model, model_admin in admin.site._registry.items():
        params = ["q", "o", "p"]
        for entry in model_admin.list_filter:
            if isinstance(entry, str):
                params += [f"{entry}__exact", f"{entry}__id__exact"]
        meta = model._meta
        pages[f"/admin/{meta.app_label}/{meta.model_name}/"] = params
    return pages


def _query(params: dict[str, bytes]) -> str:
    return "&".join(f"{name}={quote_from_bytes(value)}" for name, value in params.items())


@pytest.fixture
def rows(db):
    account = VendorAccountFactory(vendor="igw")
    binding = BindingFactory(vendor_account=account, a_number="+8613800138021")
    PrivacyNumberFactory(vendor_account=account)
    CallRecordFactory(vendor_account=account, binding=binding)
    DeliveryFactory(vendor_account=account)
    return account


@pytest.fixture
def browser(client, administrator, rows):
    """An administrator: every page and every admin changelist is open to them."""
    client.force_login(administrator)
    return client


def _get(client, path: str, params: dict[str, bytes]) -> int:
    response = client.get(f"{path}?{_query(params)}")
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # the export fails while streaming, if at all
    return response.status_code


@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_known_bad_value_in_each_parameter(browser, path):
    for name in PAGES[path] + ["unknown"]:
        for value in SWEEP:
            status = _get(browser, path, {name: value})
            assert status < 500, (path, name, value, status)


def test_admin_changelists(browser):
    pages = _admin_pages()
    assert "/admin/accounts/privacynumber/" in pages
    for path, params in pages.items():
        for name in params:
            for value in (b"\x00", "²".encode()):
                status = _get(browser, path, {name: value})
                assert status < 500, (path, name, value, status)


@pytest.mark.parametrize("path", sorted(PAGES))
def test_random_combinations(browser, path):
    names = PAGES[path] + ["unknown"]

    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(params=st.dictionaries(st.sampled_from(names), VALUES, max_size=4))
    def run(params):
        status = _get(browser, path, params)
        assert status < 500, (path, params, status)

    run()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/callbacks/%00/cdr/"),
        ("post", "/callbacks/abc/%00/"),
        ("post", "/callbacks/abc/" + "k" * 40 + "/"),
        ("get", "/sandbox/recordings/%00.wav"),
        ("get", "/sandbox/recordings/%C2%B2.wav"),
        ("get", "/privacy/bindings/new/%00/"),
        ("get", "/calls/%00/"),
    ],
)
def test_nasty_paths_are_404(browser, method, path):
    assert getattr(browser, method)(path).status_code == 404


@pytest.mark.parametrize(
    "ids",
    [["\x00"], ["²"], ["99999999999999999999"], ["-1"], ["1", "x"], [str(n) for n in range(600)]],
)
def test_bulk_release_refuses_bad_ids_without_a_500(browser, ids):
    response = browser.post("/privacy/bindings/bulk-release/", {"ids": ids}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
