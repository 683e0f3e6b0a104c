"""The organizer dashboard (``/admin``) in headless chromium against a real gunicorn server
on SQLite: sign in with the admin token (kept in session storage only), the tiers' figures,
live rates, sales per minute and audit, adding capacity, closing sales, a sell-out, a phone.

Screenshots of each state go to ``var/screenshots/dashboard-*.png``; with
``DASHBOARD_SCREENSHOTS=<folder>`` (``make screenshots``) they are copied there too, which
is how the README's pictures in ``web/static/screenshots/`` are made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from scripts.harness.processes import ROOT, call
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

TOKEN = "dashboard-admin-token"
SETTINGS = {
    "DEMO_TIERS": "VIP:100.00:8,GA:10.00:50",
    "BOOKING_RATE_LIMIT": "",
    "ADMIN_TOKEN": TOKEN,
    "SSE_MAX_SECONDS": "1",
}
VIP = '#tiers [data-tier="VIP"]'
GA = '#tiers [data-tier="GA"]'

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(SETTINGS, tmp_path) as base:
        yield base


def state(driver: WebDriver, name: str) -> None:
    """A screenshot of the page as it is, kept for the README when asked."""
    path = screenshot(driver, f"dashboard-{name}")
    if folder := os.environ.get("DASHBOARD_SCREENSHOTS"):
        (ROOT / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, ROOT / folder / path.name)


def book(server: str, tier: str, quantity: int, user: str = "fan", path: str = "book") -> dict:
    reply = call(f"{server}/api/tickets/{path}", {"userId": user, "tier": tier, "quantity": quantity})
    assert reply.status == 201, reply
    return reply.body


def readings(driver: WebDriver) -> int:
    """How many points the live chart has."""
    return int(driver.find_element(By.ID, "live-chart").get_attribute("data-readings") or 0)


def sign_in(driver: WebDriver, token: str) -> None:
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "sign-in").click()


def test_an_organizer_signs_in_watches_the_sale_adds_capacity_closes_sales_and_sees_a_sell_out(
    server: str, browser: WebDriver
) -> None:
    book(server, "VIP", 2, "ann")
    book(server, "VIP", 1, "bob", path="hold")
    book(server, "GA", 5, "cat")

    browser.get(f"{server}/admin")
    wait_for(browser, lambda d: d.find_element(By.ID, "login").is_displayed(), "the sign-in form")
    assert not browser.find_element(By.ID, "board").is_displayed()
    sign_in(browser, "wrong-token")
    wait_for_text(browser, "#login-error", "The server refused that token.")
    state(browser, "1-sign-in")

    sign_in(browser, TOKEN)
    wait_for_text(browser, f"{VIP} .figures", "2 sold · 1 held · 5 available · capacity 8")
    wait_for_text(browser, f"{GA} .figures", "5 sold · 0 held · 45 available · capacity 50")
    assert browser.execute_script("return sessionStorage.getItem('ticket-ledger.adminToken')") == TOKEN
    assert browser.execute_script("return localStorage.length + document.cookie.length") == 0
    assert browser.find_element(By.ID, "token").get_attribute("value") == ""
    widths = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.style.width)", f"{VIP} .bar span"
    )
    assert widths == ["25%", "12.5%", "62.5%"]
    wait_for_text(browser, '#audit [data-tier="VIP"] .verdict', "VIP: verified, 3 events add up")
    history = browser.find_element(By.CSS_SELECTOR, '#audit [data-tier="VIP"] a').get_attribute("href")
    assert history == f"{server}/api/tiers/VIP/history?limit=1000"
    wait_for(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{VIP} .sales-chart canvas")) == 1, "VIP's sales chart"
    )
    # Sales while the page watches: the rates, their chart and the figures follow without a reload.
    for _ in range(4):
        before = readings(browser)
        book(server, "GA", 1)
        wait_for(browser, lambda d, before=before: readings(d) > before, "the next reading")
    wait_for_match(browser, "#bookings-rate", r"[1-9]\d*\.\d|0\.[1-9]")
    wait_for_text(browser, "#held-now", "1")
    wait_for_match(browser, "#lag", r"0 · 0\.\d\d s")
    wait_for_text(browser, f"{GA} .figures", "9 sold · 0 held · 41 available · capacity 50")
    state(browser, "2-loaded")

    field = browser.find_element(By.CSS_SELECTOR, f"{VIP} form.capacity input")
    field.clear()
    field.send_keys("4")
    click(browser, f"{VIP} form.capacity .add")
    wait_for_text(browser, "#notice", "Added 4 tickets to VIP: capacity 12.")
    wait_for_text(browser, f"{VIP} .figures", "2 sold · 1 held · 9 available · capacity 12")
    wait_for_text(browser, '#audit [data-tier="VIP"] .verdict', "VIP: verified, 4 events add up")
    click(browser, f"{GA} .close")
    wait_for_text(browser, f"{GA} .close", "Click again to close GA")
    click(browser, f"{GA} .close")
    wait_for_text(browser, "#notice", "Closed sales of GA.")
    wait_for_text(browser, f"{GA} .state", "Sales closed")
    assert not browser.find_element(By.CSS_SELECTOR, f"{GA} .close").is_displayed()
    assert call(f"{server}/api/tickets/book", {"userId": "dan", "tier": "GA", "quantity": 1}).status == 409
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, VIP))
    state(browser, "3-capacity-added-and-sales-closed")

    book(server, "VIP", 9, "eve")  # the last nine
    wait_for_text(browser, f"{VIP} .figures", "11 sold · 1 held · 0 available · capacity 12")
    wait_for_match(browser, f"{VIP} .sold-out-at", r"Sold out since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    wait_for_text(browser, '#audit [data-tier="VIP"] .verdict', "VIP: verified, 5 events add up")
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, VIP))
    state(browser, "4-sold-out")

    browser.set_window_size(390, 844)  # a phone
    browser.refresh()  # still signed in: the token is in this tab's session storage
    wait_for_text(browser, f"{VIP} .figures", "11 sold · 1 held · 0 available · capacity 12")
    wait_for(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{VIP} .sales-chart canvas")) == 1, "VIP's sales chart"
    )
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, VIP))
    state(browser, "5-phone")

    click(browser, "#sign-out")
    wait_for(browser, lambda d: d.find_element(By.ID, "login").is_displayed(), "the sign-in form again")
    assert browser.execute_script("return sessionStorage.length") == 0
    assert text_of(browser, "#connection") == "Signed out."
    # The wrong token's 401 is all chromium reports: no CSP violation, no script error.
    assert severe_messages(browser) == [
        "/api/admin/overview - Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"
    ]


@pytest.mark.parametrize("settings", [{"ADMIN_TOKEN": ""}])
def test_without_an_admin_token_on_the_server_the_page_says_the_admin_api_is_off(
    browser: WebDriver, tmp_path: Path, settings: dict[str, str]
) -> None:
    with clean_sqlite_gunicorn({**SETTINGS, **settings}, tmp_path) as base:
        browser.get(f"{base}/admin")
        sign_in(browser, "anything")
        wait_for_text(browser, "#login-error", "The admin API is off on this server (its ADMIN_TOKEN is empty).")
