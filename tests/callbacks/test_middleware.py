"""callbacks.middleware.WebhookFastPath: vendor callbacks skip the page middleware,
and keep everything the webhook itself owns."""

import pytest
from django.test import override_settings

from callbacks.models import Delivery
from tests.payloads import igw_cdr, post_form, url_for

pytestmark = pytest.mark.django_db


def test_a_callback_skips_sessions_csrf_and_page_headers(client, igw_account):
    client.cookies["sessionid"] = "whatever"
    client.cookies["csrftoken"] = "x" * 32
    response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers
    assert "X-Frame-Options" not in response.headers
    assert not response.cookies  # no session or CSRF cookie is set or refreshed
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware ran
    assert Delivery.objects.get().authenticated


def test_other_methods_take_the_full_chain(client, igw_account):
    response = client.get(url_for(igw_account, "cdr"))
    assert response.status_code == 405
    assert "X-Frame-Options" in response.headers


def test_the_host_is_still_checked(client, igw_account):
    with override_settings(ALLOWED_HOSTS=["console.example.com"]):
        response = post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    assert response.status_code == 400
    assert not Delivery.objects.exists()
