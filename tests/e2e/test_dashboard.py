"""The organizer dashboard (``/admin``) in headless chromium against a real gunicorn server
on SQLite: sign in with the admin token (kept in session storage only), the tiers' figures,
live rates, sales per minute and audit, adding capacity, closing sales, a sell-out, a phone;
and "who did what", at a phone's and a desktop's width: a manager's change and a paired
device's admission listed with who did them, filtered and searched, its boxes apart.

Screenshots of each state go to ``var/screenshots/dashboard-*.png``; with
``DASHBOARD_SCREENSHOTS=<folder>`` (``make screenshots``) they are copied there too, which
is how the README's pictures in ``web/static/screenshots/`` are made.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

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
from tests.e2e.staff_http import send
from tests.e2e.test_scanner_page import box, overlap
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
    assert not browser.find_element(By.CSS_SELECTOR, f"{GA} form.price").is_displayed()  # 409 SALES_CLOSED now
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


STAFF = {
    **SETTINGS,
    "ADMIN_AUTH_RATE_LIMIT": "",
    "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "",
    "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "",
}
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "a long enough password"
MEMBERS = {"manager": "mo@gig.example", "viewer": "vi@gig.example", "door": "do@gig.example"}
SIZES = {"phone": (390, 844), "desktop": (1280, 1000)}
SHOWN_FROM = {"phone": "activity-list", "desktop": "activity"}  # where each screenshot starts
ROWS = "return [...document.querySelectorAll('#activity-list tr')].map(tr => [...tr.cells].map(td => td.innerText))"


@pytest.fixture
def staffed(tmp_path: Path) -> Iterator[str]:
    """The event ``gig`` (tier GIG) of the default organizer, made by the operator, and its
    manager, viewer and door member."""
    with clean_sqlite_gunicorn(STAFF, tmp_path) as base:
        event = {"eventId": "gig", "name": "The Gig", "tiers": [{"tier": "GIG", "price": "5.00", "capacity": 50}]}
        assert send(base, "POST", "/api/admin/events", event, ADMIN).status == 201
        for role, email in MEMBERS.items():
            member = {"email": email, "role": role, "password": PASSWORD}
            assert send(base, "POST", "/api/admin/organizers/default/members", member, ADMIN).status == 201
        yield base


def sign_in_as(driver: WebDriver, server: str, email: str) -> None:
    driver.get(f"{server}/admin")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click(driver, "#sign-in")
    wait_for(driver, lambda d: d.find_element(By.ID, "board").is_displayed(), "the dashboard")


def actions(driver: WebDriver) -> list[list[str]]:
    """The rows of "who did what", each its four cells' text (when, who, what, on what)."""
    return [[" ".join(cell.split()) for cell in row] for row in driver.execute_script(ROWS)]


def shown_after(driver: WebDriver, what: str) -> list[list[str]]:
    """Ask again (the Show button) until an action ``what`` is listed: the scans come from the
    read tables, a moment behind the store."""

    def listed(d: WebDriver) -> bool:
        click(d, "#activity-show")
        return any(what in row[2] for row in actions(d))

    wait_for(driver, listed, f"{what!r} in who did what")
    return actions(driver)


@pytest.mark.parametrize("size", SIZES)
def test_who_did_what_names_the_manager_and_the_device_that_admitted_a_ticket(
    staffed: str, browser: WebDriver, size: str
) -> None:
    browser.set_window_size(*SIZES[size])
    sign_in_as(browser, staffed, MEMBERS["manager"])
    wait_for(browser, lambda d: d.find_element(By.ID, "activity").is_displayed(), "who did what")
    assert browser.find_element(By.ID, "activity-organizer").get_attribute("value") == "default"
    # The manager adds capacity and changes the price on the page, and registers a door device there.
    field = browser.find_element(By.CSS_SELECTOR, '#tiers [data-tier="GIG"] form.capacity input')
    field.clear()
    field.send_keys("4")
    click(browser, '#tiers [data-tier="GIG"] form.capacity .add')
    wait_for_text(browser, "#notice", "Added 4 tickets to GIG: capacity 54.")
    browser.find_element(By.CSS_SELECTOR, '#tiers [data-tier="GIG"] form.price input').send_keys("6.50")
    click(browser, '#tiers [data-tier="GIG"] form.price .change')
    wait_for_text(browser, "#notice", "GIG sells at $6.50 from now on.")
    Select(browser.find_element(By.ID, "devices-event")).select_by_value("gig")
    browser.find_element(By.ID, "device-name").send_keys("North door, phone 1")
    browser.find_element(By.ID, "device-gate").send_keys("north-1")
    click(browser, "#device-register")
    wait_for(browser, lambda d: d.find_element(By.ID, "device-pairing").is_displayed(), "the pairing code")
    device = {"Authorization": f"Bearer {text_of(browser, '#device-link').split('#device=', 1)[1]}"}
    click(browser, "#device-pairing-done")
    # A fan's two tickets; the device admits the first.
    booking = book(staffed, "GIG", 2, "fan")["bookingId"]
    tickets = send(staffed, "GET", f"/api/bookings/{booking}/tickets").body
    admitted = send(staffed, "POST", "/api/checkin", {"code": tickets[0]["code"], "gate": "north-1"}, device)
    assert admitted.status == 200, admitted.body

    rows = shown_after(browser, "Admitted the ticket")
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert rows[0][1:] == [
        "North door, phone 1 door device at gate north-1",
        "Admitted the ticket",
        f"ticket {tickets[0]['ticketId']} booking {booking}",
    ]
    done = [row[1:] for row in rows]
    assert ["mo@gig.example member", "Added capacity 4 tickets added", "GIG"] in done
    assert ["mo@gig.example member", "Changed the price from 5.00 to 6.50", "GIG"] in done
    assert ["mo@gig.example member", "Issued event gig, gate north-1", "device North door, phone 1"] in done
    assert ["the operator admin token", "Created the tier price 5.00, capacity 50", "GIG"] in done
    assert all(re.fullmatch(when, row[0]) for row in rows)

    Select(browser.find_element(By.ID, "activity-kind")).select_by_value("door")
    wait_for(browser, lambda d: len(actions(d)) == 1, "only the door's action")
    Select(browser.find_element(By.ID, "activity-kind")).select_by_value("")
    browser.find_element(By.ID, "activity-search").send_keys(booking.upper())
    click(browser, "#activity-show")
    wait_for(browser, lambda d: [row[2] for row in actions(d)] == ["Admitted the ticket"], "the booking's scan")
    browser.find_element(By.ID, "activity-search").clear()
    browser.find_element(By.ID, "activity-search").send_keys(tickets[1]["ticketId"])  # not scanned
    click(browser, "#activity-show")
    wait_for_text(browser, "#activity-count", "Nothing matches.")
    browser.find_element(By.ID, "activity-search").clear()
    click(browser, "#activity-show")
    wait_for(browser, lambda d: len(actions(d)) == len(rows), "every action again")

    browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", SHOWN_FROM[size])
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#activity-form .field, #activity-show, #activity-list td')]"
        ".map(e => { const r = e.getBoundingClientRect();"
        " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,"
        " width: e.tagName === 'TD' ? r.width : 1e9,"
        " fits: e.scrollWidth <= e.clientWidth}; })"
    )
    section = box(browser, "#activity")
    assert not [(a, b) for a in range(len(cells)) for b in range(a) if overlap(cells[a], cells[b])]
    assert all(section["left"] <= c["left"] and c["right"] <= section["right"] and c["fits"] for c in cells)
    assert min(c["width"] for c in cells) >= 128  # no column squeezed to a word's width (8rem)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    state(browser, f"6-who-did-what-{size}")
    assert severe_messages(browser) == []


def test_a_viewer_sees_who_did_what_and_a_door_member_does_not(staffed: str, browser: WebDriver) -> None:
    sign_in_as(browser, staffed, MEMBERS["viewer"])
    wait_for(browser, lambda d: any("Created the tier" in row[2] for row in actions(d)), "the operator's tier")
    click(browser, "#sign-out")
    sign_in_as(browser, staffed, MEMBERS["door"])
    wait_for(browser, lambda d: d.find_element(By.ID, "second-factor").is_displayed(), "the member's own section")
    assert not browser.find_element(By.ID, "activity").is_displayed()
