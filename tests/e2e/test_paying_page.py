"""The booking page pays (issue 33), in headless chromium against a real gunicorn server on
each store: a paid event's tier is held, never booked outright; the page shows the amount in
the event's currency, the time left to pay, the bank's details and the creditor reference in
groups with a copy button; the box office's payment (the admin API) turns it confirmed with
its tickets, a cancellation's refund shows owed then refunded, and an unpaid hold expires on
the page with a way to try again. Its layout is checked at desktop and phone width. Where the
server has a Stripe key, the page pays by card through Checkout (the stand-in's hosted page).

Screenshots go to ``var/screenshots/paying-*.png``; with ``PAGE_SCREENSHOTS=<folder>`` (``make
screenshots``) they are copied there too: the pictures in docs/web-page.md."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from scripts.harness.processes import ROOT, call
from scripts.harness.stripe_standin import StripeStandIn
from tests.e2e.browser import click, screenshot, severe_messages, text_of, wait_for, wait_for_text
from tests.processes import clean_gunicorn

pytestmark = pytest.mark.slow

TOKEN = "paying-page-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
IBAN = "DE89370400440532013000"
SECONDS_TO_PAY = 60  # the least the terms allow: the expiry is waited for
EVENT = {
    "eventId": "winter-gala",
    "name": "Winter gala",
    "tiers": [{"tier": "GALA", "price": "45.50", "capacity": 4}, {"tier": "FOYER", "price": "0.00", "capacity": 9}],
    "payment": {"currency": "EUR", "secondsToPay": SECONDS_TO_PAY},
}
SETTINGS = {
    "DEMO_TIERS": "GA:10.00:50",
    "ADMIN_TOKEN": TOKEN,
    "BANK_ACCOUNT_HOLDER": "Concert Hall Ltd",
    "BANK_ACCOUNT_IBAN": IBAN,
    "BOOKING_RATE_LIMIT": "",
    "ADMIN_AUTH_RATE_LIMIT": "",
    "PROJECT_IN_PROCESS": "yes",
}
WEBHOOK_SECRET = "whsec_paying_page"
AWAITING = '#bookings [data-payment="awaiting"]'


@pytest.fixture
def server(store_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    with clean_gunicorn({**store_env, **SETTINGS}, tmp_path) as base:
        assert call(f"{base}/api/admin/events", EVENT, ADMIN).status == 201
        yield base


def state(driver: WebDriver, name: str, showing: str = "#bookings") -> None:
    """A screenshot of the page with ``showing`` in view, kept for docs/web-page.md when asked."""
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.CSS_SELECTOR, showing))
    path = screenshot(driver, f"paying-{name}")
    if folder := os.environ.get("PAGE_SCREENSHOTS"):
        (ROOT / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, ROOT / folder / path.name)


def hold_paid(driver: WebDriver, quantity: int) -> None:
    Select(driver.find_element(By.ID, "tier")).select_by_value("GALA")
    field = driver.find_element(By.ID, "quantity")
    field.clear()
    field.send_keys(str(quantity))
    driver.find_element(By.ID, "book-button").click()


def booking_id(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).get_attribute("data-booking-id"))


def item(booking: str) -> str:
    return f'#bookings [data-booking-id="{booking}"]'


# Every box of a paid booking awaiting payment: none may overlap another or leave the page.
BOXES = """
const item = document.querySelector(arguments[0]);
const parts = [...item.querySelectorAll(':scope > span, .payment-state, .bank dt, .bank .value, .bank .copy')];
return {width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
        boxes: parts.map((p) => { const r = p.getBoundingClientRect();
          return {name: p.className || p.tagName + ' ' + p.textContent, left: r.left, right: r.right,
                  top: r.top, bottom: r.bottom}; })};
"""


def assert_laid_out(driver: WebDriver, selector: str) -> None:
    """No horizontal scrolling, every part inside the window, no two parts overlapping."""
    found = driver.execute_script(BOXES, selector)
    assert found["scroll"] <= found["width"], found
    boxes = found["boxes"]
    assert len(boxes) >= 12, boxes  # what, status, countdown, when, buttons, state, 3 rows, 2 copy buttons
    for box in boxes:
        assert 0 <= box["left"] and box["right"] <= found["width"], box
        assert box["right"] > box["left"] and box["bottom"] > box["top"], box
    for n, one in enumerate(boxes):
        for other in boxes[n + 1 :]:
            apart = (
                one["right"] <= other["left"]
                or other["right"] <= one["left"]
                or one["bottom"] <= other["top"]
                or other["bottom"] <= one["top"]
            )
            assert apart, (one, other)


def test_the_page_holds_a_paid_tier_shows_how_to_pay_and_follows_the_payment(
    server: str, browser: WebDriver, store_env: dict[str, str]
) -> None:
    browser.get(f"{server}/?event=winter-gala")
    wait_for_text(browser, '#tiers [data-tier="GALA"] .available', "4 of 4 left")
    assert text_of(browser, '#tiers [data-tier="GALA"] .price') == "€45.50"
    assert Select(browser.find_element(By.ID, "event")).first_selected_option.text == "Winter gala"
    assert "paid in EUR" in text_of(browser, "#event-terms")
    Select(browser.find_element(By.ID, "tier")).select_by_value("GALA")
    wait_for_text(browser, "#book-button", "Hold and pay")
    assert not browser.find_element(By.ID, "hold-button").is_displayed()
    Select(browser.find_element(By.ID, "tier")).select_by_value("FOYER")
    wait_for_text(browser, "#book-button", "Book")  # the event's free tier is booked as before

    # The first hold is left unpaid: it expires at the end of the test.
    hold_paid(browser, 1)
    wait_for_text(browser, "#notice", "Held 1 × GALA. 3 left. Pay below to get the tickets.")
    wait_for_text(browser, f"{AWAITING} .status", "Awaiting payment")
    unpaid = booking_id(browser, AWAITING)
    payment = call(f"{server}/api/bookings/{unpaid}/payment").body
    reference = payment["reference"]
    assert re.fullmatch(r"RF\d\d[0-9A-Z]{20}", reference)
    assert text_of(browser, f"{item(unpaid)} .reference") == " ".join(re.findall(".{1,4}", reference))
    assert text_of(browser, f"{item(unpaid)} .bank dd") == "€45.50"
    bank = text_of(browser, f"{item(unpaid)} .bank")
    assert "Concert Hall Ltd" in bank and "DE89 3704 0044 0532 0130 00" in bank
    countdown = f"{item(unpaid)} .expires"
    wait_for(browser, lambda d: re.fullmatch(r"pay within (1:00|0:[0-5]\d)", text_of(d, countdown)), "the countdown")
    assert text_of(browser, "#error") == ""

    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": server, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    click(browser, f'{item(unpaid)} .copy[aria-label="Copy the reference"]')
    wait_for_text(browser, "#payment-news", f"Reference copied: {reference}")
    assert browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])") == reference
    assert_laid_out(browser, item(unpaid))
    state(browser, "1-awaiting", "#bookings-heading")

    # A second hold, paid at the box office: the page turns it confirmed, with its tickets.
    hold_paid(browser, 2)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, AWAITING)) == 2, "the second hold")
    paid = booking_id(browser, AWAITING)  # newest first
    assert paid != unpaid
    # The page reloads the bookings once more after a hold, with the availability it changed; the
    # payment comes after that, so only the page following the payment can see it.
    wait_for_text(browser, '#tiers [data-tier="GALA"] .available', "1 of 4 left")
    time.sleep(1)
    box_office = {"amount": 9100, "currency": "EUR", "method": "cash", "receipt": "till-1"}
    assert call(f"{server}/api/admin/payments/{paid}/box-office", box_office, ADMIN).status == 200
    wait_for_text(browser, f"{item(paid)} .status", "Confirmed")
    wait_for_text(browser, "#payment-news", "Payment received: 2 × GALA is confirmed. Your tickets are below.")
    assert text_of(browser, f"{item(paid)} .payment-state") == "Paid €91.00. Your tickets are below."
    click(browser, f"{item(paid)} .tickets summary")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{item(paid)} .ticket svg")) == 2, "2 QR codes")
    state(browser, "2-confirmed", "#bookings-heading")

    browser.set_window_size(390, 844)  # a phone
    assert_laid_out(browser, item(unpaid))
    state(browser, "3-phone", item(unpaid))

    # Cancelled, it owes its refund (the event gives all back), then the refund is sent.
    click(browser, f"{item(paid)} .cancel")
    wait_for_text(browser, f"{item(paid)} .status", "Refund on its way")
    wait_for_text(browser, f"{item(paid)} .payment-state", "Cancelled. A refund of €91.00 is on its way to you.")
    sent = {"amount": 9100, "method": "bank_transfer", "providerId": "transfer-1"}
    assert call(f"{server}/api/admin/payments/{paid}/refunds", sent, ADMIN).status == 200
    wait_for_text(browser, f"{item(paid)} .status", "Refunded")
    wait_for_text(browser, "#payment-news", "2 × GALA refunded.")

    # The first hold, never paid, expires by itself; its seat is back on sale; it can be held again.
    WebDriverWait(browser, SECONDS_TO_PAY + 15, poll_frequency=0.2).until(
        lambda d: text_of(d, f'{item(unpaid)}[data-status="expired"] .status') == "Expired", "the unpaid hold to expire"
    )
    expired = "Not paid in time: the hold expired, and its seats are back on sale."
    wait_for_text(browser, f"{item(unpaid)} .payment-state", expired)
    wait_for_text(browser, '#tiers [data-tier="GALA"] .available', "4 of 4 left")
    state(browser, "4-expired", "#bookings-heading")
    click(browser, f"{item(unpaid)} .again")
    wait_for_text(browser, "#notice", "Held 1 × GALA again: pay below to get the tickets.")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, AWAITING)) == 1, "the hold again")
    assert browser.find_elements(By.CSS_SELECTOR, f"{AWAITING} .card") == []  # no Stripe key: no card
    assert severe_messages(browser) == []


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    standin = StripeStandIn(webhook_secret=WEBHOOK_SECRET).start()
    yield standin
    standin.stop()


@pytest.fixture
def card_server(store_env: dict[str, str], standin: StripeStandIn, tmp_path: Path) -> Iterator[str]:
    stripe = {
        "STRIPE_SECRET_KEY": "sk_test_page",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": standin.url,
    }
    with clean_gunicorn({**store_env, **SETTINGS, **stripe}, tmp_path) as base:
        assert call(f"{base}/api/admin/events", EVENT, ADMIN).status == 201
        standin.webhook_url = f"{base}/api/payments/stripe/webhook"
        yield base


def test_where_the_stripe_key_is_set_the_page_pays_by_card_through_checkout(
    card_server: str, browser: WebDriver, standin: StripeStandIn
) -> None:
    browser.get(f"{card_server}/?event=winter-gala")
    wait_for_text(browser, '#tiers [data-tier="GALA"] .available', "4 of 4 left")
    Select(browser.find_element(By.ID, "tier")).select_by_value("GALA")
    hold_paid(browser, 2)
    wait_for_text(browser, f"{AWAITING} .card", "Pay €91.00 by card")
    held = booking_id(browser, AWAITING)
    assert "IBAN" in text_of(browser, f"{item(held)} .bank")  # the bank transfer stays offered
    state(browser, "5-card", "#bookings-heading")

    click(browser, f"{AWAITING} .card")  # to Stripe's (the stand-in's) hosted page
    wait_for(browser, lambda d: d.current_url.startswith(standin.url), "Stripe's page")
    assert text_of(browser, "h1") == "Pay 91.00 EUR"
    click(browser, "#pay")  # Stripe tells the server (the signed webhook), then sends the buyer back
    wait_for(browser, lambda d: d.current_url.startswith(card_server), "the way back")
    wait_for_text(browser, f"{item(held)} .status", "Confirmed")
    assert text_of(browser, f"{item(held)} .payment-state") == "Paid €91.00. Your tickets are below."
    (session,) = standin.seen("/v1/checkout/sessions")
    assert session.idempotency_key == f"checkout-session:{session.params['client_reference_id']}"
    assert severe_messages(browser) == []
