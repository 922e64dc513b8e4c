"""In headless Chromium: an operator logs in, finds the flagged X number first on the
health page, and suspends it from allocation through the confirmation page."""

import os
import shutil
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatusCheck, PrivacyNumber
from tests.callbacks.test_health import BAD, _pool
from tests.core.test_browser_csp import (
    CHROMEDRIVER,
    CHROMIUM,
    browser,
    csp_violations,
    log_in,
    wait_for,
)
from tests.factories import UserFactory, VendorAccountFactory

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the CSP tests


@pytest.mark.browser
@pytest.mark.skipif(
    not (CHROMIUM and shutil.which(CHROMEDRIVER)), reason="needs chromium and chromedriver"
)
@pytest.mark.django_db(transaction=True)
def test_operator_suspends_a_flagged_x(browser, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    account = VendorAccountFactory(vendor="igw", name="igw-main")
    _pool(account, timezone.now())
    AccountStatusCheck.objects.create(
        vendor_account=account, checked_at=timezone.now(), state="active", balance="12.500"
    )
    UserFactory(username="op-health", roles=["Operators"])
    log_in(browser, live_server, "op-health")

    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    url = live_server.url + reverse("callbacks:x_number_health")
    for width in (1400, 1000):
        browser.set_window_size(width, 1000)
        browser.get(url)
        browser.save_screenshot(str(shots / f"health-{width}.png"))
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    first = browser.find_element(By.CSS_SELECTOR, "#health-table tbody tr")
    assert "17000000001" in first.text and "Flagged\nday and week" in first.text
    first.find_element(By.LINK_TEXT, "Suspend…").click()
    assert wait_for(lambda: "Suspend 17000000001 from allocation?" in browser.page_source)
    assert PrivacyNumber.objects.get(number=BAD).status == "available"  # not before confirming
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert wait_for(lambda: "is suspended: no new binding will get it" in browser.page_source)
    assert PrivacyNumber.objects.get(number=BAD).status == "suspended"
    first = browser.find_element(By.CSS_SELECTOR, "#health-table tbody tr")
    assert "Suspended" in first.text and "Suspend…" not in first.text
    browser.save_screenshot(str(shots / "health-suspended.png"))
    assert csp_violations(browser) == []

    # The dashboard links here and shows the account's balance.
    for width in (1400, 1000):
        browser.set_window_size(width, 1000)
        browser.get(live_server.url + reverse("callbacks:dashboard"))
        balances = browser.find_element(By.ID, "table-balances")
        browser.execute_script("arguments[0].scrollIntoView()", balances)
        browser.save_screenshot(str(shots / f"dashboard-balances-{width}.png"))
        assert "igw-main" in balances.text and "12.500" in balances.text
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    browser.find_element(By.ID, "health-link").click()
    assert wait_for(lambda: browser.current_url.endswith(reverse("callbacks:x_number_health")))
