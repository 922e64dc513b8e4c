"""Sub-accounts in headless Chromium, with a real Celery worker and the sandbox:
create from the account page (pending, then active without a manual reload) and
sync from the vendor through the confirmation page."""

import pytest
from django.urls import reverse

from accounts.models import SubAccount
from sandbox.services import sub_account_create as sandbox_sub_account_create

# The Chromium fixtures and skip rule of the CSP browser tests.
from tests.core.test_browser_csp import browser, logged_in, pytestmark, wait_for  # noqa: F401

pytestmark = [*pytestmark, pytest.mark.worker]


def test_create_then_sync_from_the_account_page(
    ccp_account, ccp_sandbox, celery_worker_process, live_server, request
):
    from selenium.webdriver.common.by import By

    driver = request.getfixturevalue("logged_in")  # a superuser, logged in through the form
    page_url = live_server.url + reverse("accounts:vendor_account_detail", args=[ccp_account.pk])
    driver.get(page_url)
    section = driver.find_element(By.ID, "sub-accounts")
    section.find_element(By.NAME, "friendly_name").send_keys("shop-browser")
    section.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(lambda: "shop-browser" in driver.page_source)
    sub = SubAccount.objects.get(friendly_name="shop-browser")

    # No driver.get/refresh from here: the page's polling brings the vendor's answer.
    # The row is read in the page, in one step: polling may replace it between a
    # find_element and a .text, which then raise StaleElementReference.
    def row_text() -> str:
        return driver.execute_script(
            "const row = document.querySelector(arguments[0]); return row ? row.innerText : '';",
            f'tr[data-sub-account="{sub.pk}"]',
        )

    assert wait_for(lambda: "Active" in row_text(), timeout=30), row_text()
    sub.refresh_from_db()
    assert sub.sub_account_sid and sub.sub_account_sid in row_text()
    assert sub.sub_token not in driver.page_source

    made = sandbox_sub_account_create(account=ccp_sandbox, friendly_name="made-elsewhere")
    driver.find_element(By.LINK_TEXT, "Sync from the vendor…").click()
    assert wait_for(lambda: "Sync now" in driver.page_source)
    driver.find_element(By.XPATH, "//button[normalize-space()='Sync now']").click()
    assert wait_for(lambda: driver.current_url.startswith(page_url))

    def synced() -> bool:
        driver.get(page_url)  # the sync result is not polled: the message says to refresh
        return made.sub_account_sid in driver.page_source

    assert wait_for(synced, timeout=30)
    assert "Last synced from the vendor" in driver.page_source
