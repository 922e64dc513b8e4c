"""The call dashboard page (callbacks/dashboard.py): figures, tables, masking, bindings,
bad parameters, the home page's link; in headless Chromium, the charts are drawn."""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from callbacks import rollups
from tests.core.test_browser_csp import CHROMEDRIVER, CHROMIUM, browser, csp_violations
from tests.factories import (
    BindingFactory,
    CallRecordFactory,
    MessageFactory,
    UserFactory,
    VendorAccountFactory,
    VoiceCodeFactory,
)

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the CSP tests

URL = reverse("callbacks:dashboard")
X = "+8617012345678"


def _calls(account, now):
    for minutes, outcome in [
        (30, "answered"),
        (90, "answered"),
        (150, "busy"),
        (60 * 30, "answered"),
    ]:
        CallRecordFactory(
            vendor_account=account,
            call_at=now - timedelta(minutes=minutes),
            outcome=outcome,
            duration=90 if outcome == "answered" else 0,
            x_number=X,
        )
    rollups.rollup_refresh(since=now - timedelta(days=3), until=now)


@pytest.mark.django_db
def test_staff_sees_figures_and_masked_numbers(staff_client, igw_account):
    _calls(igw_account, timezone.now())
    response = staff_client.get(URL, {"period": "24h"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="chart-series"' in page and 'id="dashboard-data"' in page
    cards = {c["label"]: c for c in response.context["cards"]}
    assert cards["Calls"]["value"] == 3 and cards["Calls"]["previous"] == 1
    assert cards["Calls"]["direction"] == "up" and cards["Calls"]["change"] == 200.0
    assert cards["Answer rate (ASR)"]["value"] == 66.7
    assert "170****5678" in page and X not in page and "17012345678" not in page
    assert "▲ up 200%" in page


def _sends(now):
    """In the last 24 hours: 3 SMS sent (one partly), 1 failed, 1 pending, 2 voice codes
    sent; the 24 hours before: 1 SMS sent, 2 voice codes failed; older: 1 SMS."""
    made = [
        (MessageFactory, "sent", 1),
        (MessageFactory, "partial", 2),
        (MessageFactory, "sent", 3),
        (MessageFactory, "failed", 4),
        (MessageFactory, "pending", 5),
        (MessageFactory, "sent", 30),
        (MessageFactory, "sent", 60),
        (VoiceCodeFactory, "sent", 1),
        (VoiceCodeFactory, "sent", 2),
        (VoiceCodeFactory, "failed", 30),
        (VoiceCodeFactory, "failed", 31),
    ]
    for factory, state, hours_ago in made:
        row = factory(state=state)
        type(row).objects.filter(pk=row.pk).update(created_at=now - timedelta(hours=hours_ago))


@pytest.mark.django_db
def test_sms_and_voice_codes_beside_the_previous_period(staff_client):
    _sends(timezone.now())
    response = staff_client.get(URL, {"period": "24h"})
    rows = {row["kind"]: row for row in response.context["sends"]}
    sms, codes = rows["sms"], rows["voice_codes"]
    assert (sms["sent"]["value"], sms["sent"]["previous"]) == (3, 1)
    assert (sms["failed"]["value"], sms["failed"]["previous"]) == (1, 0)
    assert (codes["sent"]["value"], codes["sent"]["previous"]) == (2, 0)
    assert (codes["failed"]["value"], codes["failed"]["previous"]) == (0, 2)
    assert codes["failed"]["direction"] == "down" and codes["failed"]["change"] == 100.0
    table = response.content.decode().split('id="table-sends"')[1].split("</table>")[0]
    assert "▲ up 200%" in table and "▼ down 100%" in table
    assert reverse("messaging:voice_code_list") in table


@pytest.mark.django_db
def test_sends_follow_the_account_and_the_permissions(client, staff_client):
    now = timezone.now()
    _sends(now)
    other = MessageFactory(state="failed")
    response = staff_client.get(URL, {"period": "24h", "vendor_account": other.vendor_account_id})
    rows = {row["kind"]: row for row in response.context["sends"]}
    assert (rows["sms"]["sent"]["value"], rows["sms"]["failed"]["value"]) == (0, 1)
    # Calls only: no messaging permission, no messaging figures.
    calls_only = UserFactory(username="calls-only")
    calls_only.user_permissions.add(Permission.objects.get(codename="view_callrecord"))
    client.force_login(calls_only)
    response = client.get(URL, {"period": "24h"})
    assert response.context["sends"] == [] and 'id="table-sends"' not in response.content.decode()


@pytest.mark.django_db
def test_without_a_period_the_default_is_shown_as_chosen(staff_client):
    page = staff_client.get(URL).content.decode()
    assert '<option value="7d" selected>Last 7 days</option>' in page
    assert '<option value="today">Today</option>' in page


def test_operator_sees_bindings_now(operator_client, igw_account):
    now = timezone.now()
    BindingFactory(
        vendor_account=igw_account,
        expires_at=now + timedelta(minutes=20),
        a_number="+8613800138000",
    )
    BindingFactory(vendor_account=igw_account, expires_at=now + timedelta(hours=5))
    BindingFactory(vendor_account=igw_account, state="released")
    response = operator_client.get(URL, {"vendor_account": igw_account.pk})
    bindings = response.context["bindings"]
    assert (bindings.active, bindings.expiring_soon) == (2, 1)
    assert "13800138000" in response.content.decode()  # operators see full numbers


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"period": "custom"}, {"from": "2024-13-01"}, {"vendor_account": "x\x00"}]
)
def test_bad_parameters_are_field_errors(staff_client, query):
    response = staff_client.get(URL, query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "board" not in response.context


@pytest.mark.django_db
def test_roles_and_home_link(staff_client, client, nobody):
    assert 'href="/calls/dashboard/"' in staff_client.get(reverse("home")).content.decode()
    client.force_login(nobody)
    assert client.get(URL).status_code == 403
    assert 'href="/calls/dashboard/"' not in client.get(reverse("home")).content.decode()


# ----------------------------------------------------------------------- browser

CANVAS_INK = """
const c = document.getElementById(arguments[0]);
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let painted = 0;
for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) painted++; }
return [c.width, c.height, painted];
"""


@pytest.mark.browser
@pytest.mark.skipif(
    not (CHROMIUM and shutil.which(CHROMEDRIVER)), reason="needs chromium and chromedriver"
)
@pytest.mark.django_db(transaction=True)
def test_charts_are_drawn_and_numbers_masked(browser, live_server, client, tmp_path):
    from selenium.webdriver.common.by import By

    account = VendorAccountFactory(vendor="igw")
    _calls(account, timezone.now())
    _sends(timezone.now())
    client.force_login(UserFactory(username="staff-b", roles=["Business staff"]))
    browser.get(live_server.url + "/healthz")
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    for width in (1400, 1000):
        browser.set_window_size(width, 1100)
        browser.get(live_server.url + URL + "?period=7d")
        for canvas in ("chart-series", "chart-outcomes"):
            w, h, painted = browser.execute_script(CANVAS_INK, canvas)
            assert w > 200 and h > 100, (canvas, w, h)
            assert painted > 500, (canvas, painted)  # bars, axes and labels, not a blank canvas
        sends = browser.find_element(By.ID, "table-sends")
        assert "SMS" in sends.text and "Voice codes" in sends.text
        assert "SMS 5 0 1 0" in sends.text  # 7 days: every send of _sends but the pending one
        browser.execute_script("arguments[0].scrollIntoView()", sends)
        browser.save_screenshot(str(shots / f"dashboard-sends-{width}.png"))
        browser.execute_script("window.scrollTo(0, 0)")
        busiest = browser.find_element(By.ID, "table-busiest").text
        assert "170****5678" in busiest and "17012345678" not in busiest
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        assert csp_violations(browser) == []
        browser.save_screenshot(str(shots / f"dashboard-{width}.png"))
