"""The README's first minutes, in headless Chromium (Debian's chromium and
chromium-driver): log in as the demo operator, create an AXB binding with recording
on, watch a real worker make it active, place a call from the sandbox, watch the call
record fill in and its recording download after the delay, play it, and release
the binding through its confirmation page.

The console runs on pytest-django's live server with the seed_demo data; tasks go to a
real Celery worker process. A screenshot of the played recording is saved to
/tmp/ccp-first-minutes.png for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.core.management import call_command

from accounts.models import VendorAccount

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = "/tmp/ccp-first-minutes.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (scripts/ensure_chromium.sh)",
    ),
]


@pytest.fixture
def demo(live_server, settings, tmp_path, monkeypatch):
    """seed_demo against the live server, as `make run` does against its own port.
    Environment first: the worker process started after this fixture inherits it (the
    live_server fixture of tests/conftest.py allows its host:port for outbound calls)."""
    media = tmp_path / "media"
    host_port = live_server.url.split("://", 1)[1]
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    monkeypatch.setenv("PUBLIC_BASE_URL", live_server.url)
    settings.MEDIA_ROOT = media
    settings.PUBLIC_BASE_URL = live_server.url
    # Short, not zero: the download really is scheduled for later, as in production.
    # The worker plans it (it normalizes the CDR), so it reads the environment too.
    monkeypatch.setenv("RECORDING_DELAY_SECONDS", "3")
    settings.CALLBACKS_RECORDING_DELAY_SECONDS = 3
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    # Out of the box: seed_demo lists the sandbox (this server) for recordings.
    assert all(host_port in a.extra.get("recording_hosts", []) for a in VendorAccount.objects.all())
    return live_server


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, timeout: float, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.3).until(condition)
    except Exception as exc:
        driver.save_screenshot(SCREENSHOT.replace(".png", "-failed.png"))
        raise AssertionError(f"{what} (page: {driver.current_url})") from exc


def reload_until(driver, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            driver.save_screenshot(SCREENSHOT.replace(".png", "-failed.png"))
            raise AssertionError(f"{what} (page: {driver.current_url})")
        time.sleep(1)
        driver.refresh()


def test_first_minutes_of_the_readme(demo, celery_worker_process, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def click_link(text: str) -> None:
        browser.find_element(By.LINK_TEXT, text).click()

    # Log in as the demo operator (the credentials `make run` prints).
    browser.get(demo.url + "/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("operator-demo-1")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.LINK_TEXT, "Bindings"), 10, "logged in")

    # Bindings → New AXB: two mobile numbers, X left empty, recording on.
    click_link("Bindings")
    click_link("New AXB")
    browser.find_element(By.NAME, "a_number").send_keys("13800000001")
    browser.find_element(By.NAME, "b_number").send_keys("13900000002")
    ttl = browser.find_element(By.NAME, "ttl")
    ttl.clear()  # the form starts at the kind's default TTL
    ttl.send_keys("600")
    record = browser.find_element(By.NAME, "record")
    if not record.is_selected():
        record.click()
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    # The binding page reloads itself once the worker has bound it at the sandbox.
    wait(browser, lambda d: "/privacy/bindings/" in d.current_url, 10, "binding page shown")
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "h1 .badge.active"),
        45,
        "binding turned active",
    )
    binding_page = browser.current_url

    # Sandbox → Place call on that binding: answered, 30 s talked.
    click_link("Sandbox")
    Select(browser.find_element(By.NAME, "target")).select_by_index(0)
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("answered")
    duration = browser.find_element(By.NAME, "duration")
    duration.clear()
    duration.send_keys("30")
    browser.find_element(By.XPATH, "//button[normalize-space()='Place call']").click()
    wait(browser, lambda d: "placed" in d.page_source, 10, "call placed")

    # Call records shows the call; its page shows the recording once downloaded.
    click_link("Call records")
    reload_until(
        browser,
        lambda: browser.find_elements(By.CSS_SELECTOR, "a[href^='/calls/'][href$='/']"),
        30,
        "call record listed",
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table a[href^='/calls/']")
    rows[0].click()
    reload_until(
        browser,
        lambda: browser.find_elements(By.TAG_NAME, "audio"),
        60,
        "recording downloaded after the delay",
    )
    assert "downloaded" in browser.find_element(By.CSS_SELECTOR, ".badge.downloaded").text
    assert "audio/wav" in browser.page_source

    # Play it: the browser loads the audio, and it lasts as long as the call.
    audio = browser.find_element(By.TAG_NAME, "audio")
    browser.execute_script("arguments[0].preload = 'auto'; arguments[0].load();", audio)
    wait(
        browser,
        lambda d: d.execute_script("return arguments[0].readyState >= 1", audio),
        20,
        "audio metadata loaded",
    )
    assert browser.execute_script("return arguments[0].duration", audio) == pytest.approx(30, 0.01)
    browser.execute_script("arguments[0].play();", audio)
    wait(
        browser,
        lambda d: d.execute_script("return arguments[0].currentTime > 0", audio),
        20,
        "audio playing",
    )
    browser.save_screenshot(SCREENSHOT)

    # Release the binding: a confirmation page first, then the worker releases it at
    # the sandbox while the binding page polls its state.
    browser.get(binding_page)
    click_link("Release…")
    wait(browser, lambda d: "/release/" in d.current_url, 10, "release confirmation shown")
    browser.find_element(By.XPATH, "//form//button[normalize-space()='Release']").click()
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "h1 .badge.released"),
        45,
        "binding released",
    )
    assert not browser.find_elements(By.LINK_TEXT, "Release…")
