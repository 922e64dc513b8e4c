"""Login throttling (django-axes): per user name, per client IP, on both login pages."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def login(client, username, password, url=None, **extra):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, **extra
    )


def fail(client, username, times, **extra):
    for _ in range(times):
        response = login(client, username, "wrong-password", **extra)
        assert response.status_code in (200, 429)


def test_right_password_logs_in(client, settings):
    UserFactory(username="alice")
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse(settings.LOGIN_REDIRECT_URL)


def test_locked_out_after_limit_even_with_right_password(client, settings):
    UserFactory(username="alice")
    fail(client, "alice", settings.AXES_FAILURE_LIMIT + 1)
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert "Too many failed log-ins" in html
    assert 'class="topbar"' in html  # rendered in the layout
    assert "15 minutes" in html


def test_fewer_failures_than_the_limit_do_not_lock(client, settings):
    UserFactory(username="alice")
    fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert login(client, "alice", PASSWORD).status_code == 302


def test_lockout_per_user_from_many_addresses(client, settings):
    UserFactory(username="alice")
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(client, "alice", 1, REMOTE_ADDR=f"198.51.100.{n + 1}")
    response = login(client, "alice", PASSWORD, REMOTE_ADDR="203.0.113.50")
    assert response.status_code == 429


def test_lockout_per_ip_across_user_names(client, settings):
    UserFactory(username="bob")
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(client, f"guess{n}", 1, REMOTE_ADDR="198.51.100.7")
    assert login(client, "bob", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429
    # Another address is not affected.
    assert login(client, "bob", PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_logging_into_an_own_account_does_not_reset_the_ip_count(client, settings):
    UserFactory(username="mallory")
    UserFactory(username="bob")
    addr = {"REMOTE_ADDR": "198.51.100.7"}
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        fail(client, f"guess{n}", 1, **addr)
    assert login(client, "mallory", PASSWORD, **addr).status_code == 302
    client.logout()
    fail(client, "guess-last", 1, **addr)
    assert login(client, "bob", PASSWORD, **addr).status_code == 429


def test_behind_trusted_proxy_the_forwarded_client_is_counted(client, settings):
    settings.TRUSTED_PROXY = True
    UserFactory(username="bob")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        # A client-chosen left-most entry must not let it dodge the limit.
        fail(client, f"guess{n}", 1, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 198.51.100.7", **proxy)
    assert AccessAttempt.objects.filter(ip_address="198.51.100.7").count() == 5
    locked = login(client, "bob", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert locked.status_code == 429
    # Other clients behind the same proxy can still log in.
    ok = login(client, "bob", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy)
    assert ok.status_code == 302


def test_admin_login_is_throttled_too(client, settings):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "root", "wrong-password", url=url)
    response = login(client, "root", PASSWORD, url=url)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_administrators_see_attempts_and_can_lift_lockouts(client, administrator, settings):
    UserFactory(username="alice")
    fail(client, "alice", settings.AXES_FAILURE_LIMIT)
    client.force_login(administrator)
    page = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    client.logout()
    assert login(client, "alice", PASSWORD).status_code == 302


def test_api_token_auth_is_unaffected(client, settings, operator):
    from rest_framework.authtoken.models import Token

    fail(client, "operator", settings.AXES_FAILURE_LIMIT + 1)
    token = Token.objects.create(user=operator)
    response = client.get(reverse("vendor-account-list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
