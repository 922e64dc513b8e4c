"""The call dashboard page (callbacks/dashboard.py): figures, tables, masking, bindings,
bad parameters, the home page's link; in headless Chromium, the charts are drawn."""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from callbacks import rollups
from tests.core.test_browser_csp import CHROMEDRIVER, CHROMIUM, browser, csp_violations
from tests.factories import BindingFactory, CallRecordFactory, UserFactory, VendorAccountFactory

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


@pytest.mark.django_db
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
        busiest = browser.find_element(By.ID, "table-busiest").text
        assert "170****5678" in busiest and "17012345678" not in busiest
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        assert csp_violations(browser) == []
        browser.save_screenshot(str(shots / f"dashboard-{width}.png"))
