"""Pages in real headless Chromium: nothing a vendor sends may widen a page past the window.

Long unbroken strings (a raw CDR body, signed URLs with their query, webhook tokens)
once made the delivery page 3,525 px and the sandbox page 1,644 px wide. Checked at a
desktop width and at two laptop widths. Screenshots go to $BROWSER_SCREENSHOTS when
set, to look at them.

Needs chromium and chromedriver (scripts/ensure_chromium.sh installs them); without
them the test is skipped locally and fails on CI (CI=true).
"""

import base64
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from callbacks.models import Delivery
from sandbox.models import SandboxCall, SandboxDelivery, SandboxRequest
from sandbox.services import ensure_sandbox_account
from tests.factories import PrivacyNumberFactory, UserFactory, VendorAccountFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1400, 1366, 1280)
LONG = "".join(f"{i:04d}abcdef" for i in range(300))  # 3,000 characters, no break


def _driver_path() -> str | None:
    return shutil.which("chromedriver") or next(
        (
            p
            for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
            if Path(p).exists()
        ),
        None,
    )


@pytest.fixture
def browser():
    path = _driver_path()
    if path is None:
        message = "chromedriver not found: run scripts/ensure_chromium.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def logged_in(browser, live_server, client):
    """The browser carries an operator's session (Django's test client made it)."""
    operator = UserFactory(username="operator", roles=["Operators"], is_staff=True)
    client.force_login(operator)
    browser.get(live_server.url + "/healthz")  # the cookie needs a page of the domain
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    return browser


@pytest.fixture
def long_rows():
    """A delivery and sandbox rows full of long unbroken vendor strings."""
    accounts = [VendorAccountFactory(vendor=v) for v in ("ccp", "igw", "huawei", "cyj")]
    for account in accounts:
        PrivacyNumberFactory(vendor_account=account)
        sandbox = ensure_sandbox_account(vendor_account=account)
    delivery = Delivery.objects.create(
        vendor_account=accounts[1],
        vendor="igw",
        kind="cdr",
        outcome=Delivery.Outcome.REJECTED_INVALID,
        reason=f"unparseable field {LONG[:400]}",
        url=f"https://console.example.com/callbacks/token/cdr/?sig={LONG[:300]}",
        headers={"X-Vendor-Trace": LONG[:600], "Content-Type": "application/json"},
        content_type="application/json",
        body=f'{{"userData":"{LONG}"}}'.encode(),
        body_size=len(LONG) + 14,
    )
    call = SandboxCall.objects.create(account=sandbox, kind="axb", call_id=LONG[:250])
    SandboxDelivery.objects.create(
        call=call,
        kind="cdr",
        event="cdr",
        sequence=1,
        url=f"https://console.example.com/callbacks/{LONG[:400]}/cdr/",
        content_type="application/json",
        body="{}",
        http_status=502,
        error=LONG[:500],
    )
    SandboxRequest.objects.create(
        vendor="ccp",
        account=sandbox,
        method="POST",
        path=f"/sandbox/ccp/2013-12-26/Accounts/{LONG[:200]}/SMS/TemplateSMS",
        query=f"sig={LONG[:900]}",
        verdict="auth_failed_signature_mismatch",
        http_status=401,
    )
    return delivery


def _width_at(browser, url: str, width: int, shot: str) -> tuple[int, int]:
    browser.set_window_size(width, 900)
    browser.get(url)
    assert "ccp_console" in browser.title, browser.page_source[:500]
    inner = browser.execute_script("return window.innerWidth")
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    if folder := os.environ.get("BROWSER_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        # The whole page, not only the first screen.
        png = browser.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )["data"]
        (Path(folder) / f"{shot}-{width}.png").write_bytes(base64.b64decode(png))
    return scroll, inner


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_with_long_vendor_strings_fit_the_window(logged_in, live_server, long_rows, width):
    pages = {
        "delivery": reverse("callbacks:delivery_detail", args=[long_rows.pk]),
        "deliveries": reverse("callbacks:delivery_list"),
        "sandbox": reverse("sandbox:index"),
        "accounts": reverse("accounts:vendor_account_detail", args=[long_rows.vendor_account_id]),
    }
    for name, path in pages.items():
        scroll, inner = _width_at(logged_in, live_server.url + path, width, name)
        assert scroll <= inner, f"{name} page is {scroll} px wide in a {inner} px window"
    # The body is on the page, wrapped rather than cut.
    logged_in.get(live_server.url + pages["delivery"])
    assert LONG[-40:] in logged_in.find_element("css selector", "pre").text.replace("\n", "")
