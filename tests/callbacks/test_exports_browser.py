"""A background CSV export in headless Chromium: business staff export the filtered
list from its page, the export page follows the worker's progress without a reload,
and the download link appears once the file is written.

The real worker is told to stop consuming before the click and to resume once the
page shows the export queued, so the page is seen both pending and done. Screenshots
go to /tmp/shots-exports/ at 1400 and 1000 px wide.
"""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.callbacks.test_exports import T0, media  # noqa: F401 - set before the worker
from tests.core.test_layout_browser import browser  # noqa: F401 - the Chromium fixture
from tests.factories import ReviewedCallFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-exports")


def _shoot(driver, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1400, 1000):
        driver.set_window_size(width, 900)
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))


def _wait(driver, condition, timeout: float, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.3).until(condition)
    except Exception as exc:
        driver.save_screenshot(str(SHOTS / "failed.png"))
        raise AssertionError(f"{what} (page: {driver.current_url})") from exc


def test_background_export_from_the_list_page(
    browser,  # noqa: F811
    live_server,
    client,
    settings,
    media,  # noqa: F811
    igw_account,
    celery_worker_process,
):
    from selenium.webdriver.common.by import By

    from ccp_console.celery import app

    settings.CALLBACKS_EXPORT_BACKGROUND_ROWS = 5
    for i in range(12):
        ReviewedCallFactory(vendor_account=igw_account, call_id=f"c{i}", call_at=T0)
    ReviewedCallFactory(vendor_account=igw_account, call_id="busy", outcome="busy", call_at=T0)
    staff = UserFactory(username="exporter", roles=["Business staff"])
    client.force_login(staff)
    browser.get(live_server.url + "/healthz")  # the cookie needs a page of the domain
    browser.add_cookie(
        {
            "name": django_settings.SESSION_COOKIE_NAME,
            "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    queue = app.conf.task_default_queue
    worker = [f"{queue}@localhost"]
    app.control.cancel_consumer(queue, destination=worker, reply=True)

    browser.get(live_server.url + reverse("callbacks:call_record_list") + "?outcome=answered")
    browser.find_element(By.CSS_SELECTOR, "a.export-csv").click()
    _wait(browser, lambda d: "/calls/exports/" in d.current_url, 10, "export page shown")
    state = browser.find_element(By.CSS_SELECTOR, ".export-state")
    assert state.get_attribute("data-poll-url")
    assert "Queued" in state.text and "0 of about" in state.text  # a planner estimate
    assert "138****8000" not in browser.page_source  # the filter shows, no number
    browser.execute_script("window.stillTheSamePage = true;")
    _shoot(browser, "export-queued")

    app.control.add_consumer(queue, destination=worker, reply=True)
    link = _wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".export-state a.export-download"),
        30,
        "download link shown",
    )[0]
    assert browser.execute_script("return window.stillTheSamePage === true;")  # no reload
    assert "12 rows" in browser.find_element(By.CSS_SELECTOR, ".export-state").text
    _shoot(browser, "export-ready")

    body = browser.execute_async_script(  # the bytes as sent: text() would drop the BOM
        "const done = arguments[1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer())"
        ".then(b => done(new TextDecoder('utf-8', {ignoreBOM: true}).decode(b)));",
        link.get_attribute("href"),
    )
    lines = body.split("\r\n")
    assert lines[0].startswith("\ufeffid,vendor_account,")
    assert len([line for line in lines if line]) == 13  # header + the 12 answered calls
    assert "138****8000" in body and "+8613800138000" not in body
