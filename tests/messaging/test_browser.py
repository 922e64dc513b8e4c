"""The SMS form in real headless Chromium: send, land on the detail page while the
message is pending, and watch it turn sent without a manual reload."""

import shutil

import pytest
from django.urls import reverse

from messaging import services
from messaging.models import Message
from tests.core.test_browser_csp import wait_for
from tests.factories import UserFactory

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium")
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and shutil.which(CHROMEDRIVER)),
        reason="needs chromium and chromedriver (run scripts/ensure_chromium.sh)",
    ),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_send_form_then_detail_turns_sent(browser, live_server, ccp, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # Hold the task back, so the page shows the message pending and must poll.
    monkeypatch.setattr("core.outbox.doorbell", lambda *a: None)
    UserFactory(username="op", roles=["Operators"])
    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.NAME, "username").send_keys("op")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(lambda: browser.current_url.rstrip("/") == live_server.url)

    browser.find_element(By.LINK_TEXT, "SMS").click()
    browser.find_element(By.LINK_TEXT, "New SMS").click()
    Select(browser.find_element(By.NAME, "vendor_account")).select_by_visible_text(ccp.name)
    browser.find_element(By.NAME, "to").send_keys("13800000001\n13800000002")
    browser.find_element(By.NAME, "body").send_keys("Hello from the browser")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    assert wait_for(
        lambda: "/messaging/sms/" in browser.current_url and "new" not in browser.current_url
    )
    message = Message.objects.get()
    assert "Pending" in browser.find_element(By.CSS_SELECTOR, "h1").text

    services.message_send(pk=message.pk)  # the worker's part
    assert wait_for(lambda: "Sent" in browser.find_element(By.CSS_SELECTOR, "h1").text)
    # The page reloaded itself once settled: each recipient shows its outcome.
    assert wait_for(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, "tr.recipient .badge.sent")) == 2
    )
