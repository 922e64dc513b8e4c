"""The voice code send form in headless Chromium, with a real worker: the operator
sends a code, the detail page says pending and turns sent by itself (polling), the
status and fee pushes show once the sandbox plays the call, and the code is never in
the page."""

from __future__ import annotations

import pytest

from messaging.models import VoiceCode
from tests.core.test_layout_browser import browser, logged_in  # noqa: F401 - fixtures
from tests.messaging.calls_support import *  # noqa: F403
from tests.messaging.calls_support import CODE, play, wait_for
from tests.payloads import nothing_queued

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env(live_server, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", live_server.url)


def test_operator_sends_a_voice_code_and_watches_it(
    worker_env,
    console_account,
    celery_worker_process,
    logged_in,  # noqa: F811 - the imported fixture
    live_server,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    account = console_account("huawei")
    driver = logged_in
    driver.get(live_server.url + "/")
    driver.find_element(By.LINK_TEXT, "Voice codes").click()
    driver.find_element(By.LINK_TEXT, "New voice code").click()
    code_input = driver.find_element(By.NAME, "verify_code")
    assert code_input.get_attribute("type") == "password"
    # One account offers voice codes: it is chosen already.
    assert driver.find_element(By.NAME, "vendor_account").get_attribute("value") == str(account.pk)
    driver.find_element(By.NAME, "callee_number").send_keys("13800000021")
    code_input.send_keys(CODE)
    driver.find_element(By.NAME, "pre_tone").send_keys("welcome.wav")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    # The detail page polls its state until the worker has sent it.
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    reloading = (NoSuchElementException, StaleElementReferenceException)
    WebDriverWait(driver, 30, poll_frequency=0.3, ignored_exceptions=reloading).until(
        lambda d: (
            "/messaging/voice-codes/new/" not in d.current_url
            and "Sent" in d.find_element(By.CSS_SELECTOR, "h1 .badge").text
        )
    )
    row = VoiceCode.objects.get()
    assert driver.current_url.endswith(f"/messaging/voice-codes/{row.pk}/")
    row.refresh_from_db()
    play(row.session_id, outcome="answered", duration=5)
    assert wait_for(nothing_queued)  # the worker normalizes what the webhook took
    driver.refresh()
    page = driver.page_source
    assert "Disconnect" in page and "answered" in page and "****" in page
    assert CODE not in page
    assert wait_for(lambda: not VoiceCode.objects.exclude(code="").exists())
