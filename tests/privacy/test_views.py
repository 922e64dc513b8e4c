"""Browser pages: permissions, filters, create forms, release (single and bulk), pool, polling."""

import pytest
from django.urls import reverse

from privacy.models import Binding
from tests.factories import BindingFactory

pytestmark = pytest.mark.django_db

PAGES = [
    ("privacy:binding_list", {}),
    ("privacy:pool", {}),
    ("privacy:binding_create", {"kind": "axb"}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_goes_to_login(client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_user_without_role_gets_403(client, nobody, name, kwargs):
    client.force_login(nobody)
    assert client.get(reverse(name, kwargs=kwargs)).status_code == 403


def test_staff_can_view_but_not_create_or_release(staff_client, igw_account):
    binding = BindingFactory(vendor_account=igw_account)
    assert staff_client.get(reverse("privacy:binding_list")).status_code == 200
    assert staff_client.get(reverse("privacy:binding_detail", args=[binding.pk])).status_code == 200
    create = reverse("privacy:binding_create", kwargs={"kind": "axb"})
    assert staff_client.get(create).status_code == 403
    assert staff_client.post(create, {}).status_code == 403
    release = reverse("privacy:binding_release", args=[binding.pk])
    assert staff_client.post(release).status_code == 403
    bulk = reverse("privacy:binding_bulk_release")
    assert staff_client.post(bulk, {"ids": [binding.pk], "confirm": "1"}).status_code == 403
    binding.refresh_from_db()
    assert binding.state == "active"


def test_list_masks_numbers_for_staff_and_filters(client, staff_user, operator, igw_account):
    BindingFactory(vendor_account=igw_account, a_number="+8613800138000")
    BindingFactory(vendor_account=igw_account, a_number="+8613500135000", state="failed")
    client.force_login(staff_user)
    page = client.get(reverse("privacy:binding_list")).content.decode()
    assert "138****8000" in page and "13800138000" not in page
    operator_client = client
    client.force_login(operator)
    url = reverse("privacy:binding_list")
    page = operator_client.get(url, {"q": "13800138000"}).content.decode()
    assert "13800138000" in page and "13500135000" not in page
    page = operator_client.get(url, {"state": "failed"}).content.decode()
    assert "13500135000" in page and "13800138000" not in page
    page = operator_client.get(url, {"state": "nonsense"}).content.decode()
    assert "state:" in page  # an unusable filter is said, not a 500


def test_expiring_within_filter(operator_client, igw_account):
    from datetime import timedelta

    from django.utils import timezone

    soon = BindingFactory(vendor_account=igw_account, a_number="+8613800138000")
    later = BindingFactory(vendor_account=igw_account, a_number="+8613500135000")
    Binding.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(minutes=5))
    Binding.objects.filter(pk=later.pk).update(expires_at=timezone.now() + timedelta(hours=5))
    page = operator_client.get(
        reverse("privacy:binding_list"), {"expiring_within": "10"}
    ).content.decode()
    assert "13800138000" in page and "13500135000" not in page


def test_pending_rows_poll_and_settled_rows_stop(operator_client, igw_account):
    pending = BindingFactory(vendor_account=igw_account, state="pending")
    state_url = reverse("privacy:binding_state", args=[pending.pk])
    page = operator_client.get(reverse("privacy:binding_list")).content.decode()
    assert f'data-poll-url="{state_url}"' in page
    fragment = operator_client.get(state_url).content.decode()
    assert "data-poll-url" in fragment and "Pending" in fragment
    Binding.objects.filter(pk=pending.pk).update(
        state="failed", failure_code="1110", failure_text="账号余额不足"
    )
    fragment = operator_client.get(state_url).content.decode()
    assert "data-poll-url" not in fragment and "账号余额不足" in fragment


def test_create_form_allocates_and_redirects(operator_client, operator, igw_account, make_pool):
    make_pool(igw_account, 2)
    response = operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {
            "vendor_account": igw_account.pk,
            "a_number": "13800138000",
            "b_number": "+8613900139000",
            "ttl": "600",
            "display": "0,0",
        },
    )
    binding = Binding.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("privacy:binding_detail", args=[binding.pk])
    assert binding.x_number is not None and binding.created_by == operator
    detail = operator_client.get(response["Location"]).content.decode()
    assert "No calls recorded" in detail and "created" in detail


def test_create_form_shows_service_errors_and_writes_nothing(operator_client, igw_account):
    response = operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {
            "vendor_account": igw_account.pk,
            "a_number": "13800138000",
            "b_number": "13800138000",
            "ttl": "600",
            "display": "0,0",
        },
    )
    assert response.status_code == 200
    assert "A and B must be different numbers." in response.content.decode()
    assert not Binding.objects.exists()


@pytest.mark.parametrize("kind", ["axb", "xa", "cyj"])
def test_each_kind_has_a_form(operator_client, kind):
    response = operator_client.get(reverse("privacy:binding_create", kwargs={"kind": kind}))
    assert response.status_code == 200
    assert ('name="b_number"' in response.content.decode()) is (kind != "xa")


def test_unknown_kind_is_404(operator_client):
    assert operator_client.get("/privacy/bindings/new/abc/").status_code == 404


def test_release_confirms_then_releases(operator_client, igw_account):
    binding = BindingFactory(vendor_account=igw_account)
    url = reverse("privacy:binding_release", args=[binding.pk])
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and "Release" in confirm.content.decode()
    binding.refresh_from_db()
    assert binding.state == "active"
    response = operator_client.post(url)
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.state == "releasing"


def test_release_of_pending_says_why(operator_client, igw_account):
    binding = BindingFactory(vendor_account=igw_account, state="pending")
    response = operator_client.post(
        reverse("privacy:binding_release", args=[binding.pk]), follow=True
    )
    assert "still pending" in response.content.decode()


def test_bulk_release_needs_confirmation(operator_client, igw_account, cyj_account):
    igw = BindingFactory(vendor_account=igw_account)
    cyj = BindingFactory(vendor_account=cyj_account, kind="cyj", x_number=None)
    pending = BindingFactory(vendor_account=igw_account, state="pending")
    url = reverse("privacy:binding_bulk_release")
    ids = [igw.pk, cyj.pk, pending.pk]
    confirm = operator_client.post(url, {"ids": ids})
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.content.decode()
    assert Binding.objects.filter(state="active").count() == 2
    response = operator_client.post(url, {"ids": ids, "confirm": "1"}, follow=True)
    states = dict(Binding.objects.values_list("pk", "state"))
    assert states == {igw.pk: "releasing", cyj.pk: "released", pending.pk: "pending"}
    assert f"#{pending.pk} skipped" in response.content.decode()


def test_pool_page_shows_utilisation(operator_client, igw_account, make_pool):
    x1, _ = make_pool(igw_account, 2)
    BindingFactory(vendor_account=igw_account, x_number=x1)
    BindingFactory(vendor_account=igw_account, x_number=x1, state="released")
    page = operator_client.get(reverse("privacy:pool")).content.decode()
    # One live binding against the account's cap of 3.
    assert "33%" in page and "0%" in page


def test_detail_lists_the_calls_made_through_the_binding(operator_client, igw_account):
    from callbacks.models import CallRecord

    binding = BindingFactory(vendor_account=igw_account)
    CallRecord.objects.create(
        vendor_account=igw_account,
        vendor="igw",
        call_id="task-1",
        binding=binding,
        caller="+8613800138000",
        callee="+8613900139000",
        outcome="answered",
        duration=42,
    )
    page = operator_client.get(reverse("privacy:binding_detail", args=[binding.pk])).content
    page = page.decode()
    assert "13800138000" in page and "42 s" in page and "No calls recorded" not in page


def test_detail_page_reloads_itself_once_the_binding_settles(operator_client, igw_account):
    pending = BindingFactory(vendor_account=igw_account, state="pending")
    page = operator_client.get(
        reverse("privacy:binding_detail", args=[pending.pk])
    ).content.decode()
    # console.js reloads a page whose polled fragment sits in this container and settles.
    assert "<span data-reload-when-settled>" in page and "data-poll-url" in page


def test_the_only_eligible_account_is_preselected(operator_client, igw_account):
    form = operator_client.get(reverse("privacy:binding_create", args=["axb"])).context["form"]
    assert form["vendor_account"].value() == igw_account.pk


@pytest.mark.parametrize("fragment", ["8021", "138", "138****8021"])
def test_staff_search_needs_the_complete_number(staff_client, igw_account, fragment):
    BindingFactory(vendor_account=igw_account, a_number="+8613800138021")
    url = reverse("privacy:binding_list")
    assert list(staff_client.get(url, {"q": fragment}).context["page"]) == []
    found = staff_client.get(url, {"q": "138 0013 8021"}).context["page"]
    assert [b.a_number for b in found] == ["+8613800138021"]


def test_operators_search_by_fragment(operator_client, igw_account):
    BindingFactory(vendor_account=igw_account, a_number="+8613800138021")
    BindingFactory(vendor_account=igw_account, a_number="+8613500135000")
    page = operator_client.get(reverse("privacy:binding_list"), {"q": "8021"}).context["page"]
    assert [b.a_number for b in page] == ["+8613800138021"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expiring_within", "99999999999999999999"),
        ("expiring_within", "²"),
        ("vendor_account", "²"),
        ("x_id", "abc"),
        ("q", "\x00"),
        ("kind", "\x00"),
        ("expiring_before", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_unusable_filters_are_form_errors(operator_client, igw_account, field, value):
    BindingFactory(vendor_account=igw_account)
    response = operator_client.get(reverse("privacy:binding_list"), {field: value})
    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert f"{field}: " in response.content.decode()


@pytest.mark.parametrize(
    "ids", [["²"], ["\x00"], ["99999999999999999999"], ["1", "x"], [str(n) for n in range(501)]]
)
def test_bulk_release_with_bad_ids_says_so(operator_client, igw_account, ids):
    binding = BindingFactory(vendor_account=igw_account)
    url = reverse("privacy:binding_bulk_release")
    response = operator_client.post(url, {"ids": ids, "confirm": "1"}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    binding.refresh_from_db()
    assert binding.state == "active"


@pytest.mark.parametrize("value", ["²", "abc", "99999999999999999999"])
def test_pool_page_refuses_an_unusable_account(operator_client, igw_account, value):
    response = operator_client.get(reverse("privacy:pool"), {"vendor_account": value})
    assert response.status_code == 200
    assert "vendor_account: " in response.content.decode()


# ------------------------------------------------------------------ what the pages say


def _flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


AXB_FORM = {"a_number": "13800138000", "b_number": "13900139000", "ttl": "600", "display": "0,0"}


def test_create_message_agrees_with_the_badge_once_the_vendor_bound(
    operator_client, sandbox_account
):
    account = sandbox_account("igw")
    response = operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {"vendor_account": account.pk, **AXB_FORM},
        follow=True,
    )
    binding = Binding.objects.get()
    assert binding.state == "active", (binding.failure_code, binding.failure_text)
    assert _flash(response) == [f"Binding #{binding.pk} created: active at the vendor."]
    page = response.content.decode()
    assert '<span class="badge active">Active</span>' in page
    assert "the vendor is binding it" not in page


def test_create_message_says_waiting_while_the_task_is_queued(
    operator_client, igw_account, make_pool
):
    # In a test transaction the on-commit enqueue never runs: the row stays pending.
    make_pool(igw_account, 1)
    response = operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {"vendor_account": igw_account.pk, **AXB_FORM},
        follow=True,
    )
    binding = Binding.objects.get()
    assert binding.state == "pending"
    [message] = _flash(response)
    assert message.startswith(f"Binding #{binding.pk} created; waiting for the vendor")


def test_release_message_says_released_not_releasing(operator_client, sandbox_account):
    account = sandbox_account("igw")
    operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {"vendor_account": account.pk, **AXB_FORM},
        follow=True,  # reads the "created" message
    )
    binding = Binding.objects.get(state="active")
    response = operator_client.post(
        reverse("privacy:binding_release", args=[binding.pk]), follow=True
    )
    binding.refresh_from_db()
    assert binding.state == "released"
    assert _flash(response) == [f"Binding #{binding.pk} released."]
    assert "Releasing" not in response.content.decode()


def test_bulk_release_message_counts_what_happened(operator_client, igw_account, cyj_account):
    igw = BindingFactory(vendor_account=igw_account)  # the vendor is unreachable: releasing
    cyj = BindingFactory(vendor_account=cyj_account, kind="cyj", x_number=None)
    response = operator_client.post(
        reverse("privacy:binding_bulk_release"),
        {"ids": [igw.pk, cyj.pk], "confirm": "1"},
        follow=True,
    )
    assert _flash(response) == [
        "Bindings: 1 released; 1 waiting for the vendor to confirm the release."
    ]


# ------------------------------------------------------------------ the create form


@pytest.mark.parametrize(("kind", "ttl"), [("axb", 3600), ("xa", 0), ("cyj", 1800)])
def test_ttl_starts_at_the_kind_default(operator_client, igw_account, cyj_account, kind, ttl):
    from privacy import kinds

    form = operator_client.get(reverse("privacy:binding_create", args=[kind])).context["form"]
    assert form["ttl"].value() == ttl == kinds.KINDS[kind].form_ttl


def test_a_field_error_sits_with_its_own_field(operator_client, igw_account):
    response = operator_client.post(
        reverse("privacy:binding_create", kwargs={"kind": "axb"}),
        {"vendor_account": igw_account.pk, **AXB_FORM, "ttl": "-5"},
    )
    page = response.content.decode()
    ttl_label = page.index('for="id_ttl"')
    error = page.index('class="errorlist"')
    area_help = page.index('id="id_area_code_helptext"')
    # Rendered inside the TTL field's group, after the area code's help text has closed.
    assert area_help < ttl_label < error < page.index('name="ttl"')
    assert page.count('class="errorlist"') == 1


def test_expiring_filter_has_a_label_not_a_clipped_placeholder(operator_client):
    page = operator_client.get(reverse("privacy:binding_list")).content.decode()
    assert "Expiring within <input" in page and 'placeholder="Expiring' not in page


def test_binding_pages_write_times_like_the_lists(operator_client, igw_account):
    from datetime import UTC, datetime

    at = datetime(2026, 11, 29, 21, 25, tzinfo=UTC)  # 05:25 the next day in Shanghai
    binding = BindingFactory(vendor_account=igw_account)
    Binding.objects.filter(pk=binding.pk).update(created_at=at, expires_at=at)
    binding.transitions.create(to_state="active", actor_label="worker")
    binding.transitions.update(at=at)
    detail = operator_client.get(reverse("privacy:binding_detail", args=[binding.pk]))
    listing = operator_client.get(reverse("privacy:binding_list"))
    for page in (detail.content.decode(), listing.content.decode()):
        assert "2026-11-30 05:25" in page
        assert "Nov." not in page and "a.m." not in page
    # Created, Expires and the history row.
    assert detail.content.decode().count("2026-11-30 05:25") == 3
