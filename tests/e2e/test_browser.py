"""The web page in a real browser: Debian's headless chromium, driven by Selenium, against
a real gunicorn server on SQLite (one gevent worker, as ``make serve`` runs it).

Fails, never skips, when chromium or chromedriver is missing (``apt-get install chromium
chromium-driver``; ``.ci/run`` does it). Screenshots of each step go to
``var/screenshots/`` (git-ignored), replaced on every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.processes import ROOT, call, gunicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "var" / "screenshots"
# A stream lasts 1 s here, so the page has to reconnect several times during a test.
SETTINGS = {"DEMO_TIERS": "VIP:100.00:4,GA:10.00:50", "BOOKING_RATE_LIMIT": "", "SSE_MAX_SECONDS": "1"}

pytestmark = pytest.mark.slow


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The server with ``SETTINGS``, and a test's own on top (parametrised ``indirect``)."""
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    own = getattr(request, "param", {})
    with open(tmp_path / "gunicorn.log", "w+") as log:
        with gunicorn({**store, **SETTINGS, **own}, log) as (base, _):
            yield base
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to check for CSP violations
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], object], what: str) -> None:
    """Wait for ``condition``; an element the page re-rendered meanwhile is looked up again."""
    WebDriverWait(driver, 10, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, message=f"waited 10 s for {what}")


def click(driver: WebDriver, selector: str) -> None:
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector).click() or True, f"{selector} to click")


def text_of(driver: WebDriver, selector: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def wait_for_text(driver: WebDriver, selector: str, expected: str) -> None:
    wait_for(driver, lambda d: text_of(d, selector) == expected,
             f"{selector} to read {expected!r}")


def wait_for_match(driver: WebDriver, selector: str, pattern: str) -> None:
    wait_for(driver, lambda d: re.fullmatch(pattern, text_of(d, selector)), f"{selector} to match {pattern!r}")


def availability(tier: str) -> str:
    return f'#tiers [data-tier="{tier}"] .available'


def book_on_page(driver: WebDriver, tier: str, quantity: int, button: str = "book-button") -> None:
    Select(driver.find_element(By.ID, "tier")).select_by_value(tier)
    field = driver.find_element(By.ID, "quantity")
    field.clear()
    field.send_keys(str(quantity))
    driver.find_element(By.ID, button).click()


def hold_on_page(driver: WebDriver, tier: str, quantity: int) -> None:
    book_on_page(driver, tier, quantity, "hold-button")


def severe_messages(driver: WebDriver) -> list[str]:
    """What chromium logged as severe (a CSP violation, a script error, a refused request), without the origin."""
    return [re.sub(r"^http://[^/]+", "", entry["message"])
            for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path


def test_book_watch_it_live_cancel_and_sell_out(server: str, browser: WebDriver, tmp_path: Path) -> None:
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "4 of 4 left")
    wait_for(browser, lambda d: d.find_element(By.ID, "connection").get_attribute("data-mode") == "live",
             "the live stream")
    user = browser.find_element(By.ID, "user-id").get_attribute("value")
    assert re.fullmatch(r"user-[0-9a-f]{8}", user)
    assert text_of(browser, '#tiers [data-tier="VIP"] .price') == "$100.00"
    browser.execute_script("window.notReloaded = true")
    screenshot(browser, "1-loaded")

    book_on_page(browser, "VIP", 2)
    wait_for_text(browser, "#notice", "Booked 2 × VIP. 2 left.")
    wait_for_text(browser, availability("VIP"), "2 of 4 left")
    wait_for_text(browser, "#bookings .booking .what", "2 × VIP")
    screenshot(browser, "2-booked")

    # Another user's booking, made elsewhere, shows without any action on the page.
    assert call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "VIP", "quantity": 1})[0] == 201
    wait_for_text(browser, availability("VIP"), "1 of 4 left")

    click(browser, '#bookings [data-status="confirmed"] .cancel')
    wait_for_text(browser, "#notice", "Cancelled 2 × VIP.")
    wait_for_text(browser, availability("VIP"), "3 of 4 left")
    wait_for_text(browser, "#bookings .booking .status", "Cancelled")  # CSS capitalises "cancelled"
    assert browser.find_elements(By.CSS_SELECTOR, "#bookings .cancel") == []
    screenshot(browser, "3-cancelled")

    book_on_page(browser, "VIP", 5)
    wait_for_text(browser, "#error", "Tier VIP has 3 ticket(s) available, 5 requested.")
    assert text_of(browser, "#notice") == ""
    book_on_page(browser, "VIP", 0)
    wait_for_text(browser, "#error", "The request is not valid. quantity: Must be greater than or equal to 1.")
    screenshot(browser, "4-error")

    book_on_page(browser, "VIP", 3)
    wait_for_text(browser, availability("VIP"), "Sold out")
    wait_for_text(browser, "#error", "")
    option = browser.find_element(By.CSS_SELECTOR, '#tier option[value="VIP"]')
    assert not option.is_enabled() and "(sold out)" in option.text
    assert not browser.find_element(By.ID, "book-button").is_enabled()
    assert text_of(browser, availability("GA")) == "50 of 50 left"
    screenshot(browser, "5-sold-out")

    # Each stream ends after 1 s; the page reconnects by itself and stays live.
    log = tmp_path / "gunicorn.log"
    wait_for(browser, lambda _: log.read_text().count('"path": "/api/tickets/stream"') >= 3, "two reconnections")
    assert call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "GA", "quantity": 1})[0] == 201
    wait_for_text(browser, availability("GA"), "49 of 50 left")
    assert browser.find_element(By.ID, "connection").get_attribute("data-mode") == "live"
    assert browser.execute_script("return window.notReloaded") is True
    # Chromium reports the two refused bookings; a CSP violation or a script error would be here too.
    assert severe_messages(browser) == [
        f"/api/tickets/book - Failed to load resource: the server responded with a status of {status}"
        for status in ("422 (UNPROCESSABLE ENTITY)", "400 (BAD REQUEST)")]

    browser.set_window_size(390, 844)  # a phone
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "6-phone")


def test_without_event_source_the_page_polls(server: str, browser: WebDriver) -> None:
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    browser.get(f"{server}/")
    wait_for(browser, lambda d: d.find_element(By.ID, "connection").get_attribute("data-mode") == "polling",
             "polling")
    wait_for_text(browser, availability("GA"), "50 of 50 left")
    assert call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "GA", "quantity": 4})[0] == 201
    wait_for_text(browser, availability("GA"), "46 of 50 left")
    screenshot(browser, "7-polling")


HELD = '#bookings [data-status="held"]'


def test_hold_then_confirm_and_hold_then_release(server: str, browser: WebDriver) -> None:
    browser.set_window_size(390, 844)  # a phone: the hold's countdown and two buttons must fit
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "4 of 4 left")
    browser.execute_script("window.notReloaded = true")

    hold_on_page(browser, "VIP", 1)
    wait_for_text(browser, "#notice", "Held 1 × VIP. 3 left.")
    wait_for_text(browser, availability("VIP"), "3 of 4 left")
    wait_for_text(browser, f"{HELD} .status", "Held")  # CSS capitalises "held"
    wait_for_match(browser, f"{HELD} .expires", r"expires in (10:00|9:[0-5]\d)")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, HELD))
    screenshot(browser, "8-held")

    click(browser, f"{HELD} .confirm")
    wait_for_text(browser, "#notice", "Confirmed 1 × VIP.")
    wait_for_text(browser, '#bookings [data-status="confirmed"] .status', "Confirmed")
    assert browser.find_element(By.CSS_SELECTOR, '#bookings [data-status="confirmed"] .cancel').is_enabled()
    assert text_of(browser, availability("VIP")) == "3 of 4 left"

    hold_on_page(browser, "VIP", 1)
    wait_for_text(browser, availability("VIP"), "2 of 4 left")
    click(browser, f"{HELD} .release")
    wait_for_text(browser, "#notice", "Released 1 × VIP.")
    wait_for_text(browser, availability("VIP"), "3 of 4 left")
    wait_for_text(browser, '#bookings [data-status="released"] .status', "Released")
    assert browser.find_elements(By.CSS_SELECTOR, '#bookings [data-status="released"] button') == []
    assert browser.execute_script("return window.notReloaded") is True
    assert severe_messages(browser) == []
    screenshot(browser, "9-released")


@pytest.mark.parametrize("server", [{"HOLD_SECONDS": "3"}], indirect=True)
def test_a_hold_expires_on_the_page_by_itself(server: str, browser: WebDriver) -> None:
    browser.get(f"{server}/")
    wait_for_text(browser, availability("GA"), "50 of 50 left")
    hold_on_page(browser, "GA", 2)
    wait_for_text(browser, availability("GA"), "48 of 50 left")
    wait_for_match(browser, f"{HELD} .expires", r"expires in 0:0[1-3]")

    # No click from here: the countdown runs out, then the server's expiry process ends the hold.
    expired = '#bookings [data-status="expired"]'
    wait_for_text(browser, f"{expired} .status", "Expired")
    wait_for_text(browser, availability("GA"), "50 of 50 left")
    assert browser.find_elements(By.CSS_SELECTOR, f"{expired} button") == []
    screenshot(browser, "10-expired")
