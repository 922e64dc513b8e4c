"""The OpenAPI schema is valid and warning-free (drf-spectacular's own validator)."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in (
        "/api/v1/vendor-accounts/",
        "/api/v1/numbers/",
        "/api/v1/bindings/",
        "/api/v1/call-records/",
    ):
        assert path in text


def test_interactive_docs_need_login(client, operator):
    assert client.get("/api/docs/").status_code in (401, 403)
    client.force_login(operator)
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()
