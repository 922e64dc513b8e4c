"""The pages work under the Content-Security-Policy, in real headless Chromium.

Logs in through the login form, visits the main pages and the API docs, and asserts
that the browser reported no CSP violation and that the JavaScript still runs
(the select-all checkbox, state polling that reloads the page when a binding settles,
the Cancel link of confirmation pages).
Needs Debian's chromium and chromium-driver (scripts/ensure_chromium.sh installs them).
"""

import shutil
import time

import pytest
from django.urls import reverse

from privacy.models import Binding
from tests.factories import BindingFactory, UserFactory, VendorAccountFactory

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and shutil.which(CHROMEDRIVER)),
        reason="needs chromium and chromedriver (run scripts/ensure_chromium.sh)",
    ),
]

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def csp_violations(driver) -> list[str]:
    entries = driver.get_log("browser")  # read and cleared
    return [
        e["message"]
        for e in entries
        if "Content Security Policy" in e["message"] or "Content-Security-Policy" in e["message"]
    ]


def wait_for(predicate, timeout=15.0):
    """True once `predicate()` is; False after `timeout` seconds. An element the page
    replaced or removed while the predicate read it (polling, a reload) means not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (NoSuchElementException, StaleElementReferenceException):
            pass
        time.sleep(0.2)
    return False


def log_in(browser, live_server, username: str) -> None:
    """Log `username` (made by UserFactory) in through the login form."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(lambda: browser.current_url.rstrip("/") == live_server.url)


@pytest.fixture
def logged_in(browser, live_server, transactional_db):

    UserFactory(username="root", is_staff=True, is_superuser=True)
    log_in(browser, live_server, "root")
    assert csp_violations(browser) == []
    return browser


def test_main_pages_raise_no_csp_violation(logged_in, live_server):
    from selenium.webdriver.common.by import By

    browser = logged_in
    binding = BindingFactory()
    pages = [
        reverse("home"),
        reverse("accounts:vendor_account_list"),
        reverse("accounts:vendor_account_detail", args=[binding.vendor_account_id]),
        reverse("accounts:number_list"),
        reverse("privacy:binding_list"),
        reverse("privacy:binding_create", args=["axb"]),
        reverse("privacy:binding_detail", args=[binding.pk]),
        reverse("privacy:pool"),
        reverse("callbacks:call_record_list"),
        reverse("callbacks:delivery_list"),
        reverse("sandbox:index"),
        reverse("admin:index"),
        reverse("admin:accounts_vendoraccount_change", args=[binding.vendor_account_id]),
        reverse("admin:privacy_binding_change", args=[binding.pk]),
        "/api/v1/vendor-accounts/",  # DRF's browsable API
    ]
    for path in pages:
        browser.get(live_server.url + path)
        assert browser.find_element(By.TAG_NAME, "body").text, path
        assert csp_violations(browser) == [], path


def test_api_docs_render_under_the_policy(logged_in, live_server):
    from selenium.webdriver.common.by import By

    browser = logged_in
    browser.get(live_server.url + "/api/docs/")
    # Swagger UI builds the page from the schema in JavaScript.
    assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock"), timeout=20)
    assert csp_violations(browser) == []


def test_select_all_checkbox_works(logged_in, live_server):
    from selenium.webdriver.common.by import By

    browser = logged_in
    BindingFactory.create_batch(3)
    browser.get(live_server.url + reverse("privacy:binding_list"))
    browser.find_element(By.CSS_SELECTOR, "input[data-select-all]").click()
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name='ids']")
    assert len(boxes) == 3
    assert all(box.is_selected() for box in boxes)
    assert csp_violations(browser) == []


def test_pending_binding_polls_and_reloads_when_settled(logged_in, live_server):
    from selenium.webdriver.common.by import By

    browser = logged_in
    binding = BindingFactory(state=Binding.State.PENDING)
    browser.get(live_server.url + reverse("privacy:binding_detail", args=[binding.pk]))
    assert browser.find_elements(By.CSS_SELECTOR, "[data-poll-url]")
    Binding.objects.filter(pk=binding.pk).update(state=Binding.State.ACTIVE)
    # The poller fetches the state fragment every 2 s and reloads the page once settled.
    assert wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, "[data-poll-url]"))
    assert "Active" in browser.find_element(By.CSS_SELECTOR, ".binding-state").text
    assert csp_violations(browser) == []


def test_cancel_on_a_confirmation_page_goes_back(logged_in, live_server):
    from selenium.webdriver.common.by import By

    browser = logged_in
    account = VendorAccountFactory()
    detail = live_server.url + reverse("accounts:vendor_account_detail", args=[account.pk])
    browser.get(detail)
    browser.get(live_server.url + reverse("accounts:vendor_account_set_enabled", args=[account.pk]))
    browser.find_element(By.LINK_TEXT, "Cancel").click()
    assert wait_for(lambda: browser.current_url == detail)
    assert csp_violations(browser) == []
