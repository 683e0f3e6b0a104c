"""The waiting room on the web page, in headless chromium against a real gunicorn server
(SQLite, the queue in process): the pre-queue, the place live with its progress bar, the
booking form once admitted with the pass's countdown, the pass lapsing, and a sale that
sells out while the buyer waits. Screenshots in ``var/screenshots/queue-*.png``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from scripts.harness.processes import call
from tests.e2e.browser import click, screenshot, severe_messages, text_of, wait_for_text
from tests.e2e.test_browser import availability, book_on_page, server  # noqa: F401 - server is a fixture

TOKEN = "browser-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = [{"ADMIN_TOKEN": TOKEN}]

pytestmark = pytest.mark.slow


def wait_long(driver: WebDriver, condition: Callable[[WebDriver], object], what: str, seconds: float = 20) -> None:
    WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, message=f"waited {seconds} s for {what}"
    )


def turn_on(server: str, **terms) -> None:
    reply = call(f"{server}/api/admin/waiting-room", {"tiers": ["VIP"], **terms}, AUTH)
    assert reply.status == 201, reply.body


def admitted_by_api(server: str, user: str) -> str:
    """Another buyer, queueing through the API: their pass once admitted."""
    ticket = call(f"{server}/api/queue", {"userId": user}).body
    deadline = time.monotonic() + 30
    while ticket["state"] == "waiting":
        assert time.monotonic() < deadline, ticket
        time.sleep(0.1)
        ticket = call(f"{server}/api/queue/{ticket['ticketId']}").body
    return ticket["queuePass"]


@pytest.mark.parametrize("server", ADMIN, indirect=True)
def test_queue_live_then_book_with_the_pass_until_it_lapses(server: str, browser: WebDriver) -> None:
    opens = datetime.now(UTC) + timedelta(seconds=6)
    turn_on(server, rate=1, opensAt=opens.isoformat(), passSeconds=12)
    for n in range(3):  # others in the pre-queue too: the page's place is drawn among four
        assert call(f"{server}/api/queue", {"userId": f"other-{n}"}).status == 201
    browser.get(f"{server}/")
    wait_for_text(browser, availability("VIP"), "4 of 4 left")
    wait_for_text(browser, "#queue-message", "A waiting room is on for VIP: join the queue to book.")
    Select(browser.find_element(By.ID, "tier")).select_by_value("GA")
    assert browser.find_element(By.ID, "book-button").is_enabled()  # GA is not behind the room
    Select(browser.find_element(By.ID, "tier")).select_by_value("VIP")
    assert not browser.find_element(By.ID, "book-button").is_enabled()  # VIP is: no pass yet
    click(browser, "#join-button")
    wait_for_text(browser, "#queue-position", "Places are drawn at the opening.")
    assert "arriving early gives no edge" in text_of(browser, "#queue-message")
    assert browser.find_element(By.ID, "queue-bar").get_dom_attribute("value") is None  # indeterminate
    screenshot(browser, "queue-1-pre-queue")

    wait_long(
        browser,
        lambda d: (
            re.fullmatch(r"Number [1-4] in the queue", text_of(d, "#queue-position")) or text_of(d, "#queue-pass")
        ),
        "a place after the opening",
    )
    if not text_of(browser, "#queue-pass"):  # drawn first, the page may be admitted at once
        assert re.fullmatch(r"· about \d+ s", text_of(browser, "#queue-eta"))
        screenshot(browser, "queue-2-waiting")
    wait_long(browser, lambda d: text_of(d, "#queue-pass").startswith("Your pass: book within 0:1"), "admission")
    assert browser.find_element(By.ID, "book-button").is_enabled()
    screenshot(browser, "queue-3-admitted")

    book_on_page(browser, "VIP", 1)
    wait_for_text(browser, "#notice", "Booked 1 × VIP. 3 left.")
    screenshot(browser, "queue-4-booked")

    wait_long(browser, lambda d: text_of(d, "#queue-message").startswith("Your pass has expired"), "the pass to lapse")
    assert not browser.find_element(By.ID, "book-button").is_enabled()
    assert browser.find_element(By.ID, "join-button").is_displayed()
    screenshot(browser, "queue-5-expired")
    click(browser, "#join-button")  # back in, at the back
    wait_long(
        browser,
        lambda d: re.fullmatch(r"Number \d in the queue", text_of(d, "#queue-position")) or text_of(d, "#queue-pass"),
        "a new place",
    )
    assert severe_messages(browser) == []


@pytest.mark.parametrize("server", ADMIN, indirect=True)
def test_the_page_says_when_the_sale_sold_out_while_waiting(server: str, browser: WebDriver) -> None:
    turn_on(server, rate=0.2)  # one buyer every 5 s
    browser.get(f"{server}/")
    first = call(f"{server}/api/queue", {"userId": "quick"}).body  # ahead of the page
    assert first["state"] == "waiting"
    click(browser, "#join-button")
    wait_for_text(browser, "#queue-position", "Number 2 in the queue")
    browser.set_window_size(390, 844)  # a phone
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "queue-6-phone")
    queue_pass = admitted_by_api(server, "quick")
    reply = call(
        f"{server}/api/tickets/book", {"userId": "quick", "tier": "VIP", "quantity": 4}, {"Queue-Pass": queue_pass}
    )
    assert reply.status == 201
    wait_long(
        browser,
        lambda d: text_of(d, "#queue-message") == "Sold out while you waited: nothing is left to book.",
        "sold out",
        10,
    )
    wait_for_text(browser, availability("VIP"), "Sold out")
    assert not browser.find_element(By.ID, "join-button").is_displayed()
    assert not browser.find_element(By.ID, "queue-progress").is_displayed()
    screenshot(browser, "queue-7-sold-out")
    assert severe_messages(browser) == []
    looks = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
        ".filter(p => p.startsWith('/api/queue/'))"
    )
    own = [path for path in looks if path != "/api/queue/frontier"]
    assert len(looks) > len(own) and 1 <= len(own) <= 2, looks  # it followed the frontier, asked for its own rarely
