"""The dashboard (``/admin``) signs staff in as themselves, in headless chromium against a real
gunicorn server: a manager of the default organizer signs in with email and password, sees
the default organizer's tiers and not another organizer's, adds capacity and changes a price
(changes made with the session cookie and its CSRF token), and signs out, after which the
cookie is refused;
at phone and desktop width. Screenshots go to ``var/screenshots/dashboard-staff-*.png``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import click, screenshot, wait_for, wait_for_text
from tests.e2e.staff_http import send
from tests.processes import clean_sqlite_gunicorn

TOKEN = "dashboard-staff-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "the manager's long password"
VIP = '#tiers [data-tier="VIP"]'

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(
        {"DEMO_TIERS": "VIP:100.00:8", "BOOKING_RATE_LIMIT": "", "ADMIN_TOKEN": TOKEN}, tmp_path
    ) as base:
        assert send(base, "POST", "/api/admin/organizers", {"organizer": "rival", "name": "Rival"}, ADMIN).status == 201
        event = {"eventId": "rival-gig", "name": "Gig", "tiers": [{"tier": "RIVAL", "price": "5.00", "capacity": 9}]}
        assert send(base, "POST", "/api/admin/events?organizer=rival", event, ADMIN).status == 201
        member = {"email": "mia@example.org", "role": "manager", "password": PASSWORD}
        assert send(base, "POST", "/api/admin/organizers/default/members", member, ADMIN).status == 201
        yield base


def fill(driver: WebDriver, field: str, text: str) -> None:
    element = driver.find_element(By.ID, field)
    element.clear()
    element.send_keys(text)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_manager_signs_in_as_themselves_sees_only_their_organizers_tiers_and_signs_out(
    server: str, browser: WebDriver, width: int
) -> None:
    browser.set_window_size(width, 900)
    browser.get(f"{server}/admin")
    wait_for(browser, lambda d: d.find_element(By.ID, "login").is_displayed(), "the sign-in form")
    fill(browser, "email", "mia@example.org")
    fill(browser, "password", "not the password")
    browser.find_element(By.ID, "sign-in").click()
    wait_for_text(browser, "#login-error", "Wrong email, password or code.")
    fill(browser, "password", PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    wait_for_text(browser, f"{VIP} .figures", "0 sold · 0 held · 8 available · capacity 8")
    assert browser.find_elements(By.CSS_SELECTOR, '#tiers [data-tier="RIVAL"]') == []
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script reads it
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    screenshot(browser, f"dashboard-staff-{width}")

    field = browser.find_element(By.CSS_SELECTOR, f"{VIP} form.capacity input")
    field.clear()
    field.send_keys("2")
    click(browser, f"{VIP} form.capacity .add")
    wait_for_text(browser, f"{VIP} .figures", "0 sold · 0 held · 10 available · capacity 10")
    activity = send(server, "GET", "/api/admin/organizers/default/activity", None, ADMIN).body
    member_id = send(server, "GET", "/api/admin/organizers/default/members", None, ADMIN).body[0]["memberId"]
    assert {"actor": f"member:{member_id}", "what": "CapacityAdded", "subject": "VIP"} in [
        {k: a[k] for k in ("actor", "what", "subject")} for a in activity
    ]

    # Beside the capacity, a new price: the card shows it once the projection has it.
    wait_for_text(browser, f"{VIP} .price", "$100.00")
    price = browser.find_element(By.CSS_SELECTOR, f"{VIP} form.price input")
    assert price.get_attribute("placeholder") == "100.00"
    price.send_keys("80")
    click(browser, f"{VIP} form.price .change")
    wait_for_text(browser, "#notice", "VIP sells at $80.00 from now on.")
    wait_for_text(browser, f"{VIP} .price", "$80.00")
    activity = send(server, "GET", "/api/admin/organizers/default/activity?kind=tier", None, ADMIN).body
    assert {"actor": f"member:{member_id}", "what": "PriceChanged", "detail": "from 100.00 to 80.00"} in [
        {k: a[k] for k in ("actor", "what", "detail")} for a in activity
    ]
    price.send_keys("0")
    click(browser, f"{VIP} form.price .change")
    wait_for_text(browser, "#error", "Tier VIP is priced: it cannot be made free; create a tier of its own for that.")

    cookie = browser.get_cookie("staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    click(browser, "#sign-out")
    wait_for(browser, lambda d: d.find_element(By.ID, "login").is_displayed(), "the sign-in form again")
    copied = {"Cookie": f"staff={cookie['value']}"}
    wait_for(browser, lambda _: send(server, "GET", "/api/staff/me", None, copied).status == 401, "the cookie refused")
    assert browser.execute_script("return sessionStorage.length") == 0
