"""Browser pages: permissions, send forms, list filters and masking, polling, detail,
send limits, home tiles and navigation."""

import pytest
from django.urls import reverse

from messaging import services
from messaging.models import Message, SendPolicy

PAGES = [
    ("messaging:sms_list", {}),
    ("messaging:sms_create", {"kind": "plain"}),
    ("messaging:policy_list", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_anonymous_goes_to_login(client, db, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_user_without_role_gets_403(client, nobody, name, kwargs):
    client.force_login(nobody)
    assert client.get(reverse(name, kwargs=kwargs)).status_code == 403


def _message(account, **kw):
    kw.setdefault("to", ["13800000001", "13800000002"])
    kw.setdefault("body", "call me at 13912345678")
    return services.message_create(vendor_account=account, **kw)


def test_plain_form_sends_and_redirects_to_detail(operator_client, ccp):
    url = reverse("messaging:sms_create", kwargs={"kind": "plain"})
    page = operator_client.get(url)
    assert page.status_code == 200 and b'name="template_id"' not in page.content
    response = operator_client.post(
        url,
        {"vendor_account": ccp.pk, "to": "13800000001, 13800000002", "body": "hi", "msg_type": "0"},
    )
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:sms_detail", args=[message.pk])
    detail = operator_client.get(response["Location"])
    assert b"sent" in detail.content and detail.content.count(b'class="recipient"') == 2


def test_template_form_takes_one_parameter_per_line(operator_client, ccp):
    url = reverse("messaging:sms_create", kwargs={"kind": "template"})
    operator_client.post(
        url, {"vendor_account": ccp.pk, "to": "13800000001", "template_id": "5", "datas": "a\nb\n"}
    )
    message = Message.objects.get()
    assert (message.kind, message.template_id, message.datas) == ("template", "5", ["a", "b"])


def test_form_shows_service_errors_and_the_rate_limit(operator_client, ccp, settings):
    url = reverse("messaging:sms_create", kwargs={"kind": "plain"})
    bad = operator_client.post(
        url, {"vendor_account": ccp.pk, "to": "12", "body": "hi", "msg_type": "0"}
    )
    assert bad.status_code == 200 and b"Not phone numbers" in bad.content
    settings.MESSAGING_SENDS_PER_MINUTE = 1
    data = {
        "vendor_account": ccp.pk,
        "to": "13800000001, 13800000002",
        "body": "hi",
        "msg_type": "0",
    }
    limited = operator_client.post(url, data)
    assert b"rate limit reached" in limited.content and b"Try again in" in limited.content
    assert not Message.objects.exists()


def test_unknown_kind_is_404(operator_client, db):
    assert operator_client.get("/messaging/sms/new/other/").status_code == 404


def test_disabled_and_non_sms_accounts_are_not_offered(operator_client, ccp):
    from tests.factories import VendorAccountFactory

    VendorAccountFactory(vendor="ccp", enabled=False, name="off")
    VendorAccountFactory(vendor="igw", name="privacy-only")
    page = operator_client.get(reverse("messaging:sms_create", kwargs={"kind": "plain"}))
    assert ccp.name.encode() in page.content
    assert b">off<" not in page.content and b"privacy-only" not in page.content


def test_staff_see_masked_numbers_and_no_send_buttons(staff_client, ccp):
    message = _message(ccp)
    listing = staff_client.get(reverse("messaging:sms_list"))
    assert listing.status_code == 200
    assert b"138****0001" in listing.content and b"13800000001" not in listing.content
    assert b"New SMS" not in listing.content
    detail = staff_client.get(reverse("messaging:sms_detail", args=[message.pk]))
    assert b"139****5678" in detail.content and b"13912345678" not in detail.content
    assert b"13800000002" not in detail.content
    assert (
        staff_client.get(reverse("messaging:sms_create", kwargs={"kind": "plain"})).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"state": "sent"}, True),
        ({"state": "failed"}, False),
        ({"recipient": "13800000002"}, True),
        ({"recipient": "13800000009"}, False),
        ({"created_from": "2999-01-01"}, False),
    ],
)
def test_list_filters(operator_client, ccp, query, found):
    message = _message(ccp)
    page = operator_client.get(reverse("messaging:sms_list"), query)
    link = reverse("messaging:sms_detail", args=[message.pk]).encode()
    assert (link in page.content) is found


@pytest.mark.parametrize(
    "query", [{"state": "x"}, {"recipient": "138"}, {"created_to": "soon"}, {"vendor_account": "²"}]
)
def test_unusable_filters_are_shown_not_500(operator_client, db, query):
    page = operator_client.get(reverse("messaging:sms_list"), query)
    assert page.status_code == 200 and b'class="error"' in page.content


def test_pending_messages_poll_and_settled_stop(operator_client, ccp, monkeypatch):
    monkeypatch.setattr("core.outbox.doorbell", lambda *a: None)
    message = _message(ccp)
    state_url = reverse("messaging:sms_state", args=[message.pk])
    assert state_url.encode() in operator_client.get(reverse("messaging:sms_list")).content
    detail = operator_client.get(reverse("messaging:sms_detail", args=[message.pk]))
    assert b"data-reload-when-settled" in detail.content
    services.message_send(pk=message.pk)
    fragment = operator_client.get(state_url)
    assert b"Sent" in fragment.content and b"data-poll-url" not in fragment.content


def _client_of(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_send_limits_page_edits_the_policy(operator_client, ccp, staff_user):
    page = operator_client.get(reverse("messaging:policy_list"))
    assert ccp.name.encode() in page.content and b"defaults" in page.content
    url = reverse("messaging:policy_edit", args=[ccp.pk])
    response = operator_client.post(
        url, {"per_minute": "5", "per_day": "", "recipient_per_hour": "0"}
    )
    assert response.status_code == 302
    policy = SendPolicy.objects.get(vendor_account=ccp)
    assert (policy.per_minute, policy.per_day, policy.recipient_per_hour) == (5, None, 0)
    assert operator_client.post(url, {"per_minute": "-1"}).status_code == 200
    assert _client_of(staff_user).get(reverse("messaging:policy_list")).status_code == 403


def test_nav_and_home_show_sms_to_the_roles(operator_client, staff_user, ccp):
    _message(ccp)
    home = operator_client.get("/")
    assert b"SMS failed (24 h)" in home.content and b'href="/messaging/sms/"' in home.content
    staff_home = _client_of(staff_user).get("/")
    assert b"SMS sent today" in staff_home.content
