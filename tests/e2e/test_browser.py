"""The web page in a real browser: Debian's headless chromium, driven by Selenium, against
a real gunicorn server on SQLite (one gevent worker, as ``make serve`` runs it).

Fails, never skips, when chromium or chromedriver is missing (``apt-get install chromium
chromium-driver``; ``make test`` does it). Screenshots of each step go to
``var/screenshots/`` (git-ignored), replaced on every run.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from scripts.harness.processes import call
from tests.e2e.browser import (
    click,
    screenshot,
    severe_messages,
    text_of,
    wait_for,
    wait_for_match,
    wait_for_text,
)
from tests.processes import clean_sqlite_gunicorn

# A stream lasts 1 s here, so the page has to reconnect several times during a test.
SETTINGS = {"DEMO_TIERS": "VIP:100.00:4,GA:10.00:50", "BOOKING_RATE_LIMIT": "", "SSE_MAX_SECONDS": "1"}

pytestmark = pytest.mark.slow


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The server with ``SETTINGS``, and a test's own on top (parametrised ``indirect``)."""
    with clean_sqlite_gunicorn({**SETTINGS, **getattr(request, "param", {})}, tmp_path) as base:
        yield base


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


def streams_opened(server: str) -> float:
    """The tier list's streams the server has opened, from its request metrics."""
    with urllib.request.urlopen(f"{server}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(r'http_requests_total{method="GET",route="/api/tickets/stream",status="200"} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_book_watch_it_live_cancel_and_sell_out(server: str, browser: WebDriver) -> None:
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "4 of 4 left")
    wait_for(
        browser, lambda d: d.find_element(By.ID, "connection").get_attribute("data-mode") == "live", "the live stream"
    )
    user = browser.find_element(By.ID, "user-id").get_attribute("value")
    assert re.fullmatch(r"user-[0-9a-f]{32}", user)
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
    assert option.is_enabled() and "(sold out: waiting list)" in option.text  # its list can be joined
    assert text_of(browser, "#book-button") == "Join the waiting list"
    assert not browser.find_element(By.ID, "hold-button").is_displayed()
    assert text_of(browser, availability("GA")) == "50 of 50 left"
    screenshot(browser, "5-sold-out")

    # Each stream ends after 1 s; the page reconnects by itself and stays live.
    opened = streams_opened(server)
    wait_for(browser, lambda _: streams_opened(server) >= opened + 2, "two reconnections")
    assert call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "GA", "quantity": 1})[0] == 201
    wait_for_text(browser, availability("GA"), "49 of 50 left")
    assert browser.find_element(By.ID, "connection").get_attribute("data-mode") == "live"
    assert browser.execute_script("return window.notReloaded") is True
    # Chromium reports the two refused bookings; a CSP violation or a script error would be here too.
    assert severe_messages(browser) == [
        f"/api/tickets/book - Failed to load resource: the server responded with a status of {status}"
        for status in ("422 (UNPROCESSABLE ENTITY)", "400 (BAD REQUEST)")
    ]

    browser.set_window_size(390, 844)  # a phone
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "6-phone")


def test_without_event_source_the_page_polls(server: str, browser: WebDriver) -> None:
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    browser.get(f"{server}/")
    wait_for(browser, lambda d: d.find_element(By.ID, "connection").get_attribute("data-mode") == "polling", "polling")
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


PLACE = '#places [data-tier="VIP"]'


def test_a_sold_out_tier_is_waited_for_and_a_returned_ticket_offered_then_confirmed(
    server: str, browser: WebDriver
) -> None:
    browser.set_window_size(390, 844)  # a phone: the place and its button must fit
    sold = call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "VIP", "quantity": 4})
    assert sold.status == 201
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "Sold out")

    book_on_page(browser, "VIP", 1)
    wait_for_text(browser, "#notice", "You are on the waiting list for 1 × VIP: number 1 in line.")
    wait_for_text(browser, f"{PLACE} .status", "Waiting list: number 1 of 1")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, PLACE))
    screenshot(browser, "11-waiting")
    book_on_page(browser, "VIP", 1)  # once per user and tier
    user = browser.find_element(By.ID, "user-id").get_attribute("value")
    wait_for_text(browser, "#error", f"{user} is on the waiting list of tier VIP already.")

    browser.refresh()  # the place is remembered and read again
    wait_for_text(browser, f"{PLACE} .status", "Waiting list: number 1 of 1")

    cancelled = call(f"{server}/api/bookings/{sold.body['bookingId']}/cancel", {"userId": "someone-else"})
    assert cancelled.status == 200
    wait_for_match(browser, f'{PLACE}[data-status="offered"] .status', r"Came back for you: held below until .+")
    wait_for_text(browser, f"{HELD} .what", "1 × VIP")  # the offer is a hold in the buyer's bookings
    wait_for_text(browser, availability("VIP"), "3 of 4 left")  # 1 of the 4 returned is offered, not on sale
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, PLACE))
    screenshot(browser, "12-offered")

    click(browser, f"{HELD} .confirm")
    wait_for_text(browser, "#notice", "Confirmed 1 × VIP.")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, PLACE) == [], "the place to end")
    wait_for_text(browser, '#bookings [data-status="confirmed"] .what', "1 × VIP")
    refused = "Failed to load resource: the server responded with a status of"
    assert severe_messages(browser) == [  # joining twice, and the place read once more after it ended
        f"/api/tickets/waiting-list - {refused} 409 (CONFLICT)",
        f"/api/users/{user}/waiting-list/VIP - {refused} 404 (NOT FOUND)",
    ]


def test_a_buyer_leaves_a_waiting_list(server: str, browser: WebDriver) -> None:
    assert call(f"{server}/api/tickets/book", {"userId": "someone-else", "tier": "VIP", "quantity": 4})[0] == 201
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "Sold out")
    book_on_page(browser, "VIP", 2)
    wait_for_text(browser, f"{PLACE} .status", "Waiting list: number 1 of 1")
    click(browser, f"{PLACE} .leave")
    wait_for_text(browser, "#notice", "You left the waiting list for VIP.")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, PLACE) == [], "the place to go")
    user = browser.find_element(By.ID, "user-id").get_attribute("value")
    place = call(f"{server}/api/users/{user}/waiting-list/VIP")
    assert (place.status, place.body["error"]["code"]) == (404, "NOT_ON_WAITING_LIST")
