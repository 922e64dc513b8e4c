"""/api/v1/bindings/: 202 on create, Idempotency-Key, filters, release, errors, schema."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from privacy import selectors
from privacy.models import Binding
from tests.factories import BindingFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/bindings/"


def payload(account, **overrides):
    return {
        "kind": "axb",
        "vendor_account": account.pk,
        "a_number": "13800138000",
        "b_number": "13900139000",
        "ttl": 600,
        **overrides,
    }


def test_anonymous_is_401(api_client, igw_account):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, payload(igw_account), format="json").status_code == 401


def test_staff_reads_but_cannot_create_or_release(staff_api, igw_account, make_pool):
    make_pool(igw_account, 1)
    binding = BindingFactory(vendor_account=igw_account)
    assert staff_api.get(URL).status_code == 200
    response = staff_api.post(URL, payload(igw_account), format="json")
    assert response.status_code == 403 and response.json()["message"]
    assert staff_api.post(f"{URL}{binding.pk}/release/").status_code == 403
    assert Binding.objects.count() == 1


def test_nobody_cannot_read(api_client, nobody):
    api_client.force_authenticate(nobody)
    assert api_client.get(URL).status_code == 403


def test_create_answers_202_pending(operator_api, igw_account, make_pool, enqueued):
    make_pool(igw_account, 2)
    response = operator_api.post(URL, payload(igw_account), format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["state"] == "pending" and body["kind"] == "axb"
    assert body["a_number"] == "13800138000"  # operators see full numbers
    assert body["x_number"] and body["failure"] is None
    assert Binding.objects.get().pk == body["id"]


def test_idempotency_key_replays(operator_api, igw_account, make_pool):
    make_pool(igw_account, 3)
    headers = {"Idempotency-Key": "order-1001"}
    first = operator_api.post(URL, payload(igw_account), format="json", headers=headers)
    again = operator_api.post(URL, payload(igw_account), format="json", headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"] and Binding.objects.count() == 1
    other = operator_api.post(
        URL, payload(igw_account, b_number="13700137000"), format="json", headers=headers
    )
    assert other.status_code == 409 and "order-1001" in other.json()["message"]
    too_long = operator_api.post(
        URL, payload(igw_account), format="json", headers={"Idempotency-Key": "k" * 129}
    )
    assert too_long.status_code == 400


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("pool", "choose_x"), [(3, False), (1, False), (3, True)], ids=["spare-xs", "one-x", "chosen-x"]
)
def test_racing_posts_with_one_key_make_one_binding(
    operator, igw_account, make_pool, enqueued, monkeypatch, pool, choose_x
):
    """Two POSTs with one key, both past the key look-up before either writes."""
    xs = make_pool(igw_account, pool)
    body = payload(igw_account, x_number=xs[0].number) if choose_x else payload(igw_account)
    real_lookup = selectors.binding_for_idempotency_key
    barrier = threading.Barrier(2)
    seen = threading.local()

    def lookup_then_wait(**kwargs):
        # Hold each request after its first look-up until the other has looked too.
        found = real_lookup(**kwargs)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait(timeout=10)
        return found

    monkeypatch.setattr(selectors, "binding_for_idempotency_key", lookup_then_wait)
    answers = []

    def post():
        try:
            api = APIClient()
            api.force_authenticate(operator)
            response = api.post(URL, body, format="json", headers={"Idempotency-Key": "race-1"})
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(code for code, _ in answers)
    assert statuses == [200, 202], answers
    assert answers[0][1]["id"] == answers[1][1]["id"] == Binding.objects.get().pk
    assert [name for name, _ in enqueued] == ["binding_bind_at_vendor"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"a_number": "abc"}, "a_number"),
        ({"b_number": "13800138000"}, "b_number"),
        ({"ttl": 0}, "ttl"),
        ({"kind": "zzz"}, "kind"),
        ({"vendor_account": 999999}, "vendor_account"),
        ({"x_number": "17000000000"}, "x_number"),
    ],
)
def test_validation_errors_have_the_shared_shape(operator_api, igw_account, override, field):
    response = operator_api.post(URL, payload(igw_account, **override), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation error" and field in body["extra"]["fields"]
    assert not Binding.objects.exists()


def test_pool_exhaustion_is_a_400_naming_the_reason(operator_api, igw_account):
    response = operator_api.post(URL, payload(igw_account), format="json")
    assert response.status_code == 400
    assert "no available numbers" in response.json()["extra"]["fields"]["x_number"][0]


def test_list_filters(operator_api, igw_account, cyj_account):
    a = BindingFactory(vendor_account=igw_account, a_number="+8613800138000")
    BindingFactory(vendor_account=igw_account, state="failed")
    c = BindingFactory(vendor_account=cyj_account, kind="cyj", x_number=None)

    def ids(**params):
        response = operator_api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(a="008613800138000") == {a.pk}
    assert ids(kind="cyj") == {c.pk}
    assert ids(vendor_account=cyj_account.pk) == {c.pk}
    assert ids(state="live") == {a.pk, c.pk}
    assert ids(x=a.x_number.number) == {a.pk}
    far = "2999-01-01T00:00:00Z"
    assert ids(expiring_before=far) >= {a.pk}
    bad = operator_api.get(URL, {"expiring_before": "soon", "a": "x"})
    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) == {"expiring_before", "a"}


def test_numbers_are_masked_without_permission(igw_account):
    from rest_framework.test import APIClient

    from accounts.roles import BUSINESS_STAFF

    BindingFactory(vendor_account=igw_account, a_number="+8613800138000")
    api = APIClient()
    api.force_authenticate(UserFactory(username="viewer", roles=[BUSINESS_STAFF]))
    row = api.get(URL).json()["results"][0]
    assert row["a_number"] == "138****8000"


def test_retrieve_and_release(operator_api, igw_account, enqueued):
    binding = BindingFactory(vendor_account=igw_account)
    assert operator_api.get(f"{URL}{binding.pk}/").json()["state"] == "active"
    response = operator_api.post(f"{URL}{binding.pk}/release/")
    assert response.status_code == 202 and response.json()["state"] == "releasing"
    assert operator_api.get(f"{URL}999999/").status_code == 404
    assert operator_api.post(f"{URL}999999/release/").status_code == 404
    pending = BindingFactory(vendor_account=igw_account, state="pending")
    refused = operator_api.post(f"{URL}{pending.pk}/release/")
    assert refused.status_code == 400 and "state" in refused.json()["extra"]["fields"]


def test_schema_documents_the_endpoints(operator_api):
    response = operator_api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/bindings/", "/api/v1/bindings/{id}/", "/api/v1/bindings/{id}/release/"} <= (
        set(paths)
    )
    params = {p["name"] for p in paths["/api/v1/bindings/"]["post"]["parameters"]}
    assert "Idempotency-Key" in params


def test_staff_api_search_needs_the_complete_number(igw_account):
    from rest_framework.test import APIClient

    from accounts.roles import BUSINESS_STAFF

    binding = BindingFactory(vendor_account=igw_account, a_number="+8613800138021")
    api = APIClient()
    api.force_authenticate(UserFactory(username="viewer", roles=[BUSINESS_STAFF]))

    def ids(q):
        response = api.get(URL, {"q": q})
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids("8021") == [] and ids("138") == [] and ids("138****8021") == []
    assert ids("+8613800138021") == [binding.pk]


def test_operators_api_search_by_fragment(operator_api, igw_account):
    binding = BindingFactory(vendor_account=igw_account, a_number="+8613800138021")
    rows = operator_api.get(URL, {"q": "8021"}).json()["results"]
    assert [row["id"] for row in rows] == [binding.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"expiring_within": "99999999999999999999"},
        {"vendor_account": "²"},
        {"limit": "99999999999999999999"},
        {"offset": "99999999999999999999"},
        {"limit": "abc"},
        {"limit": "0"},
        {"q": "\x00"},
        {"a": "100%"},  # the reason quotes the input; django-filter formats it with %
        {"x": "%(x)s"},
    ],
)
def test_unusable_query_parameters_are_a_400_naming_them(operator_api, igw_account, params):
    BindingFactory(vendor_account=igw_account)
    response = operator_api.get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == set(params)


def test_limit_and_offset_still_page(operator_api, igw_account):
    BindingFactory.create_batch(3, vendor_account=igw_account)
    body = operator_api.get(URL, {"limit": "2", "offset": "1"}).json()
    assert body["count"] == 3 and len(body["results"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        '{"kind": "\\ud800"}',  # a lone surrogate: valid JSON, not text
        '{"kind": "axb", "a_number": "' + "\\udfff" + '"}',
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 40 + "1" + "}" * 40,
        '{"ttl": NaN}',
    ],
)
def test_json_bodies_no_server_should_accept_are_a_400(operator_api, body):
    response = operator_api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]
