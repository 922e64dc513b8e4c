"""The admin's query strings: a NUL byte is a 400, never SQL."""

import pytest


@pytest.mark.parametrize(
    "query",
    ["q=%00", "status__exact=%00", "vendor_account__id__exact=1%00", "o=%00", "%00=1"],
)
def test_admin_changelist_with_a_nul_is_a_400(client, administrator, query):
    client.force_login(administrator)
    assert client.get(f"/admin/accounts/privacynumber/?{query}").status_code == 400
    assert client.get(f"/admin/auth/user/?{query}").status_code == 400


def test_admin_search_still_works(client, administrator):
    client.force_login(administrator)
    assert client.get("/admin/accounts/privacynumber/?q=170").status_code == 200


def test_console_pages_are_left_to_their_filter_sets(client, operator):
    client.force_login(operator)
    response = client.get("/privacy/bindings/?q=%00")
    assert response.status_code == 200
    assert "q: " in response.content.decode()
