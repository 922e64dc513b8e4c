"""Call review in real headless Chromium: business staff log in, filter the list,
open a call, play its recording and seek in it (the player asks the playback view
for byte ranges), and see no whole number anywhere on the way.

Screenshots go to $BROWSER_SCREENSHOTS when set (1400 and 1000 px wide).
"""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from callbacks.models import CallRecord, RecordingPlayback
from tests.core.test_layout_browser import browser  # noqa: F401 (the fixture)
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

E164 = re.compile(r"\+86\d{11}")


def _shot(driver, name: str) -> None:
    folder = os.environ.get("BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _wait_js(driver, script: str, what: str, timeout: float = 15):
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script), message=what)


def test_staff_filter_open_play_and_seek(browser, live_server, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    call_command(
        "generate_call_records",
        count=400,
        days=2,
        accounts=2,
        seed=11,
        stdout=StringIO(),
    )
    UserFactory(username="anna", roles=["Business staff"])
    browser.set_window_size(1400, 1000)
    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.NAME, "username").send_keys("anna")
    browser.find_element(By.NAME, "password").send_keys("pass-word-123")
    browser.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    # The login page is /login/: wait for the POST's redirect away from it, or the next
    # get() races the session cookie and lands on the login form again.
    login_url = live_server.url + reverse("login")
    WebDriverWait(browser, 10).until(lambda d: not d.current_url.startswith(login_url))

    browser.get(live_server.url + reverse("callbacks:call_record_list"))
    Select(browser.find_element(By.NAME, "has_recording")).select_by_value("true")
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("answered")
    browser.find_element(By.CSS_SELECTOR, "#call-filters button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "has_recording=true" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#call-records tbody tr")
    expected = CallRecord.objects.filter(recording_status="downloaded", outcome="answered").count()
    assert expected and len(rows) == min(expected, 50)
    assert "match" in browser.find_element(By.ID, "estimate").text
    assert not E164.search(browser.page_source) and "****" in browser.page_source
    _shot(browser, "review-list-1400")
    browser.set_window_size(1000, 900)
    _shot(browser, "review-list-1000")

    rows[0].find_element(By.TAG_NAME, "a").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "recording"))
    assert not E164.search(browser.page_source)
    _wait_js(
        browser,
        "return document.getElementById('recording').readyState >= 1",
        "the recording's metadata loads",
    )
    length = browser.execute_script("return document.getElementById('recording').duration")
    assert 19 < length < 21  # the generated 20 s recording
    browser.execute_script(
        "const a = document.getElementById('recording'); a.muted = true; a.play();"
    )
    _wait_js(browser, "return document.getElementById('recording').currentTime > 0", "it plays")
    browser.execute_script(
        "const a = document.getElementById('recording'); window.seeked = false;"
        "a.addEventListener('seeked', () => { window.seeked = true; }); a.currentTime = 15;"
    )
    _wait_js(browser, "return window.seeked === true", "it seeks to 0:15")
    assert browser.execute_script("return document.getElementById('recording').currentTime") >= 15
    _shot(browser, "review-detail-1000")
    browser.set_window_size(1400, 1000)
    _shot(browser, "review-detail-1400")
    # The player fetched byte ranges, every one audited.
    plays = RecordingPlayback.objects.filter(username="anna")
    assert plays.filter(status_code=206).exists()
