"""The delivery inbox pages: list, detail, replay (page, admin, command), and how
huawei's signature headers and notes are shown there."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from callbacks import normalize, services
from callbacks.models import CallRecord, Delivery
from tests.payloads import (
    ccp_hangup,
    igw_cdr,
    post_ccp,
    post_form,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ deliveries and replay


def test_delivery_list_filters_problems(operator_client, client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, devid="x", taskid="t2"))
    url = reverse("callbacks:delivery_list")
    page = operator_client.get(url, {"outcome": "problems"}).context["page"]
    assert [d.outcome for d in page] == ["rejected_auth"]
    html = operator_client.get(url).content.decode()
    assert "devid does not match" in html
    assert "Replay" in html


def test_delivery_detail_hides_the_token(operator_client, client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    delivery = Delivery.objects.get()
    html = operator_client.get(reverse("callbacks:delivery_detail", args=[delivery.pk])).content
    assert igw_account.webhook_token.encode() not in html
    assert b"taskid=task-1" in html  # operators may see whole numbers


def test_replay_from_the_page_after_fixing_the_account(operator_client, client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, appid="new-app"))
    delivery = Delivery.objects.get()
    assert delivery.outcome == "rejected_auth"
    url = reverse("callbacks:delivery_replay", args=[delivery.pk])
    assert operator_client.get(url).status_code == 200  # confirmation
    assert Delivery.objects.get().outcome == "rejected_auth"
    igw_account.app_id = "new-app"
    igw_account.save()
    response = operator_client.post(url)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.outcome == "accepted"
    assert delivery.replayed_by.username == "operator"
    assert delivery.attempts == 2
    assert CallRecord.objects.count() == 1


def test_replay_needs_permission(staff_client, client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, devid="x"))
    url = reverse("callbacks:delivery_replay", args=[Delivery.objects.get().pk])
    assert staff_client.post(url).status_code == 403


def test_replay_of_an_accepted_delivery_is_refused(operator_client, client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    delivery = Delivery.objects.get()
    operator_client.post(reverse("callbacks:delivery_replay", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.outcome == "accepted"


def test_replay_after_a_code_fix(client, igw_account):
    from unittest import mock

    with (  # the batch, then its delivery-by-delivery retry
        mock.patch.object(normalize, "_batch_cdr", side_effect=RuntimeError("bug")),
        mock.patch.object(normalize, "_cdr_apply", side_effect=RuntimeError("bug")),
    ):
        post_form(client, igw_account, "cdr", igw_cdr(igw_account))
    delivery = Delivery.objects.get()
    assert delivery.outcome == "failed_processing"
    delivery = services.delivery_replay(delivery=delivery)
    assert delivery.outcome == "accepted" and delivery.traceback == ""
    assert CallRecord.objects.count() == 1


def test_replay_judges_huawei_freshness_at_arrival(client, huawei_account):
    """Replays happen long after Created: the window is checked against received_at."""
    import json

    from tests.payloads import huawei_headers, huawei_status, url_for

    huawei_account.extra = {"push_signature": "require"}
    real_secret = huawei_account.secret
    huawei_account.secret = "configured-wrongly"
    huawei_account.save()
    url = url_for(huawei_account, "status")
    headers = huawei_headers(huawei_account, f"http://testserver{url}", secret=real_secret)
    client.post(
        url, data=json.dumps(huawei_status("answer")), content_type="application/json", **headers
    )
    delivery = Delivery.objects.get()
    assert delivery.outcome == "rejected_auth" and "PasswordDigest" in delivery.reason
    # The operator fixes the secret and replays (here at once; see below for later).
    huawei_account.secret = real_secret
    huawei_account.save()
    delivery = services.delivery_replay(delivery=Delivery.objects.get())
    assert delivery.outcome == "accepted", delivery.reason
    # The same delivery judged at replay time (an hour on) would be stale.
    from accounts.selectors import vendor_client
    from vendors import CallbackAuthError

    with pytest.raises(CallbackAuthError, match="away from now"):
        vendor_client(account=huawei_account).authenticate_callback(
            "status",
            headers=delivery.headers,
            body=bytes(delivery.body),
            url=delivery.url,
            now=delivery.received_at + timedelta(hours=1),
        )


def test_ccp_replay_of_an_auth_failure_needs_skip_auth(client, ccp_account):
    from tests.payloads import ccp_auth

    post_ccp(client, ccp_account, ccp_hangup(), auth=False, **ccp_auth(ccp_account, token="old"))
    delivery = services.delivery_replay(delivery=Delivery.objects.get())
    assert delivery.outcome == "rejected_auth"
    assert "redacted" in delivery.reason
    delivery = services.delivery_replay(delivery=delivery, skip_auth=True)
    assert delivery.outcome == "accepted"


def test_replay_command(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, appid="other"))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, taskid="t2", devid="other"))
    igw_account.app_id = "other"
    igw_account.save()
    out = io.StringIO()
    call_command("replay_deliveries", "--outcome", "rejected_auth", stdout=out)
    assert "1 accepted, 1 rejected_auth" in out.getvalue()
    dry = io.StringIO()
    call_command(
        "replay_deliveries",
        "--id",
        str(Delivery.objects.get(outcome="rejected_auth").pk),
        "--dry-run",
        stdout=dry,
    )
    assert "would replay" in dry.getvalue()


def test_replay_many_tallies_outcomes_and_goes_past_what_is_not_replayable(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account))  # accepted: not replayable
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, taskid="t2", appid="other"))
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, taskid="t3", devid="other"))
    igw_account.app_id = "other"
    igw_account.save()
    seen = []
    counts = services.delivery_replay_many(
        deliveries=Delivery.objects.order_by("pk"), on_each=seen.append
    )
    assert counts == {"not replayable": 1, "accepted": 1, "rejected_auth": 1}
    assert [d.outcome for d in seen] == ["accepted", "rejected_auth"]
    assert services.replay_summary(counts) == "1 accepted, 1 not replayable, 1 rejected_auth"
    assert services.replay_summary({}) == "nothing"


def test_replay_command_since_is_a_date_or_datetime(client, igw_account):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, appid="other"))
    igw_account.app_id = "other"
    igw_account.save()
    for since in ("2000-01-01", "2000-01-01T00:00:00+08:00"):
        out = io.StringIO()
        call_command("replay_deliveries", "--since", since, "--dry-run", stdout=out)
        assert "would replay" in out.getvalue()
    out = io.StringIO()
    call_command("replay_deliveries", "--since", "2999-01-01", stdout=out)
    assert "replayed: nothing" in out.getvalue()
    with pytest.raises(CommandError, match="--since"):
        call_command("replay_deliveries", "--since", "yesterday")


def test_admin_replay_action(admin_client, client, igw_account, administrator):
    post_form(client, igw_account, "cdr", igw_cdr(igw_account, appid="other"))
    igw_account.app_id = "other"
    igw_account.save()
    client.force_login(administrator)
    delivery = Delivery.objects.get()
    response = client.post(
        reverse("admin:callbacks_delivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    assert Delivery.objects.get().outcome == "accepted"
    assert (
        client.get(reverse("admin:callbacks_delivery_change", args=[delivery.pk])).status_code
        == 200
    )


# ------------------------------------------------------------------ huawei signatures on pages


def _x_aksk_parts(delivery):
    from vendors.huawei import parse_x_aksk

    return parse_x_aksk(delivery.headers["X-AKSK"])


@pytest.mark.parametrize("sign_with", ["right", "wrong"])
def test_delivery_pages_never_show_the_x_aksk(client, administrator, huawei_account, sign_with):
    """A PasswordDigest + Nonce on a page would let a reader re-post another body."""
    import json

    from tests.payloads import huawei_headers, huawei_status, url_for

    url = url_for(huawei_account, "status")
    secret = huawei_account.secret if sign_with == "right" else "wrong-secret"
    headers = huawei_headers(huawei_account, f"http://testserver{url}", secret=secret)
    client.post(url, json.dumps(huawei_status("answer")), "application/json", **headers)
    delivery = Delivery.objects.get()
    parts = _x_aksk_parts(delivery)
    client.force_login(administrator)
    for page in (
        reverse("callbacks:delivery_detail", args=[delivery.pk]),
        reverse("admin:callbacks_delivery_change", args=[delivery.pk]),
    ):
        html = client.get(page).content.decode()
        assert "[hidden: " in html, page
        assert parts["PasswordDigest"] not in html, page
        assert parts["Nonce"] not in html, page
        assert 'realm="SDP"' not in html and "realm=&quot;SDP&quot;" not in html, page


def test_old_auth_notes_quoting_the_x_aksk_are_redacted(operator_client, huawei_account):
    delivery = Delivery.objects.create(
        vendor_account=huawei_account,
        vendor="huawei",
        kind="status",
        outcome="rejected_auth",
        reason="PasswordDigest did not match",
        auth_received='UsernameToken Username="k",PasswordDigest="DIGEST+/=",'
        'Nonce="NONCE1234",Created="2024-01-01T00:00:00Z"',
    )
    html = operator_client.get(reverse("callbacks:delivery_detail", args=[delivery.pk]))
    html = html.content.decode()
    assert "DIGEST+/=" not in html and "NONCE1234" not in html
    assert "2024-01-01T00:00:00Z" in html
