"""The Content-Security-Policy header, and pages that need nothing it forbids.

The browser check (tests/core/test_browser_csp.py) proves the pages work under the
policy; these tests pin the policy and catch inline code early without a browser.
"""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTR_OR_TAG = re.compile(r"<style[\s>]|<[^>]+\sstyle\s*=", re.I)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def test_login_page_has_a_strict_policy(client):
    policy = directives(client.get(reverse("login")))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    sources = {source for values in policy.values() for source in values}
    assert not sources & {"'unsafe-inline'", "'unsafe-eval'"}


def test_api_responses_carry_it_too(operator_api):
    response = operator_api.get("/api/v1/vendor-accounts/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]


def test_browsable_api_allows_inline_styles_only(operator_client):
    # DRF's own templates use style="" attributes; scripts stay strict.
    response = operator_client.get("/api/v1/vendor-accounts/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response)
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["script-src"] == ["'self'"]


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "accounts:vendor_account_list",
        "accounts:number_list",
        "privacy:binding_list",
        ("privacy:binding_create", "axb"),
        "privacy:pool",
        "callbacks:call_record_list",
        "callbacks:delivery_list",
        "sandbox:index",
        "admin:index",
    ],
)
def test_pages_have_no_inline_code(client, administrator, name):
    client.force_login(administrator)
    name, args = (name, ()) if isinstance(name, str) else (name[0], name[1:])
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Content-Security-Policy" in response.headers
    assert not INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html)
    assert not STYLE_ATTR_OR_TAG.search(html)


def test_api_docs_load_their_init_script_from_a_url(client, operator):
    client.force_login(operator)
    html = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert not STYLE_ATTR_OR_TAG.search(html)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
