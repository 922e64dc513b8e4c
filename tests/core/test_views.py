"""Pages of no single app: error pages in the layout, the favicon, the API docs, admin."""

import pytest
from django.urls import reverse

from tests.factories import BindingFactory

pytestmark = pytest.mark.django_db


def test_403_renders_in_the_layout_with_navigation(staff_client):
    # Business staff may not open vendor accounts (an operator URL).
    response = staff_client.get(reverse("accounts:vendor_account_list"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "console.css" in page and '<header class="topbar">' in page
    assert "You may not open this page" in page
    assert f'href="{reverse("callbacks:call_record_list")}">Call records</a>' in page
    assert "Vendor accounts</a>" not in page  # the nav still follows the role


def test_404_renders_in_the_layout(operator_client):
    response = operator_client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and '<header class="topbar">' in page
    assert "Bindings</a>" in page


def test_404_for_anonymous_users_has_no_navigation(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "<nav>" not in response.content.decode()


def test_favicon_is_served_and_named_on_every_page(client, operator_client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    icon = '<link rel="icon" href="/static/favicon.svg"'
    assert icon in operator_client.get("/").content.decode()
    assert icon in operator_client.get(reverse("admin:index")).content.decode()
    assert icon in client.get(reverse("login")).content.decode()


def test_500_page_renders_in_the_layout_without_a_request_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "console.css" in page and "Something went wrong" in page and "<nav>" not in page


def test_api_docs_lead_back_to_the_console(operator_client):
    page = operator_client.get(reverse("api-docs")).content.decode()
    assert 'id="swagger-ui"' in page
    assert f'<a href="{reverse("home")}">&larr; Back to the console</a>' in page


def test_admin_lists_bindings_read_only_and_finds_them_by_id(client, administrator):
    client.force_login(administrator)
    admin_client = client
    binding = BindingFactory()
    other = BindingFactory()
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Bindings" in index and "Sandbox deliveries" in index and "deliverys" not in index
    changelist = reverse("admin:privacy_binding_changelist")
    found = admin_client.get(changelist, {"q": str(binding.pk)})
    assert list(found.context["cl"].result_list) == [binding]
    assert admin_client.get(changelist, {"q": "not-a-number"}).status_code == 200
    change = admin_client.get(reverse("admin:privacy_binding_change", args=[other.pk]))
    page = change.content.decode()
    assert change.status_code == 200 and 'name="_save"' not in page
    assert reverse("privacy:binding_detail", args=[other.pk]) in page
    assert other.a_number.removeprefix("+86") not in page  # numbers stay on the masked page
    assert admin_client.get(reverse("admin:privacy_binding_add")).status_code == 403
    delete = reverse("admin:privacy_binding_delete", args=[other.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_confirm_page_asks_with_a_button_that_posts_back(rf, operator):
    from core.views import confirm_page

    request = rf.get("/somewhere/")
    request.user = operator
    html = confirm_page(
        request, title="Do it?", body="It cannot be undone.", action="Do", hidden={"x": "1"}
    ).content.decode()
    assert "<h1>Do it?</h1>" in html and "<p>It cannot be undone.</p>" in html
    assert '<form method="post">' in html and 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="x" value="1">' in html
    assert '<button type="submit" class="danger">Do</button>' in html
    safe = confirm_page(request, title="t", body="b", action="Go", danger=False)
    assert '<button type="submit" class="primary">Go</button>' in safe.content.decode()
