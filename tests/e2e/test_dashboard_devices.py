"""A manager registers and revokes an event's door devices on the dashboard, in headless
Chromium against a real gunicorn server, at a phone's and a desktop's width: the pairing QR
code (shown once) is read off a screenshot by a real decoder (``zbarimg``) as the pairing link
the page shows, the device is listed, and once revoked (after a confirmation) the list says so
and its token is refused at the door. A viewer does not see the section at all. The section's
boxes are checked too: nothing overlapping, nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.e2e.browser import SCREENSHOTS, click, screenshot, severe_messages, text_of, wait_for, wait_for_match
from tests.e2e.staff_http import send
from tests.e2e.test_scanner_page import box, overlap
from tests.e2e.test_ticket_qr import decode_qr
from tests.processes import clean_sqlite_gunicorn

ADMIN = {"Authorization": "Bearer dashboard-devices-admin"}
MANAGER, VIEWER, PASSWORD = "mo@devices.example", "vi@devices.example", "a long enough password"
SETTINGS = {
    "DEMO_TIERS": "GA:10.00:100",
    "ADMIN_TOKEN": "dashboard-devices-admin",
    "ADMIN_AUTH_RATE_LIMIT": "",
    "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "",
    "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "",
}
SIZES = {"phone": (390, 844), "desktop": (1280, 1000)}
SECTION_PARTS = (
    "#devices-event",
    "#devices-list",
    "#device-name",
    "#device-gate",
    "#device-register",
    "#device-qr svg",
)
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(SETTINGS, tmp_path) as base:
        event = {"eventId": "gig", "name": "The Gig", "tiers": [{"tier": "GIG", "price": "5.00", "capacity": 50}]}
        assert send(base, "POST", "/api/admin/events", event, ADMIN).status == 201
        for email, role in ((MANAGER, "manager"), (VIEWER, "viewer")):
            member = {"email": email, "role": role, "password": PASSWORD}
            assert send(base, "POST", "/api/admin/organizers/default/members", member, ADMIN).status == 201
        yield base


def sign_in(browser: WebDriver, server: str, email: str) -> None:
    browser.get(f"{server}/admin")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click(browser, "#sign-in")
    wait_for(browser, lambda d: d.find_element(By.ID, "board").is_displayed(), "the dashboard")


@pytest.mark.parametrize("size", SIZES)
def test_a_manager_pairs_a_device_by_its_qr_code_and_revokes_it(server: str, browser: WebDriver, size: str):
    browser.set_window_size(*SIZES[size])
    sign_in(browser, server, MANAGER)
    wait_for(browser, lambda d: d.find_element(By.ID, "devices").is_displayed(), "the door devices")
    Select(browser.find_element(By.ID, "devices-event")).select_by_value("gig")
    browser.find_element(By.ID, "device-name").send_keys("North door, phone 1")
    browser.find_element(By.ID, "device-gate").send_keys("north-1")
    click(browser, "#device-register")
    wait_for(browser, lambda d: d.find_element(By.ID, "device-pairing").is_displayed(), "the pairing code")
    wait_for_match(browser, "#devices-list", "North door, phone 1\\s+north-1\\s+Active\\s+Revoke")
    assert "Shown once" in text_of(browser, "#device-pairing")
    browser.execute_script("document.getElementById('devices').scrollIntoView()")

    boxes = {part: box(browser, part) for part in SECTION_PARTS}
    qr = boxes["#device-qr svg"]
    assert qr["width"] == qr["height"] >= 150
    assert not [(a, b) for a in boxes for b in boxes if a < b and overlap(boxes[a], boxes[b])]
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    section, revoke = box(browser, "#devices"), box(browser, "#devices-list button.revoke")  # not scrolled out of sight
    assert all(
        section["left"] <= part["left"] and part["right"] <= section["right"] for part in (*boxes.values(), revoke)
    )
    screenshot(browser, f"dashboard-devices-{size}")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = SCREENSHOTS / f"dashboard-device-qr-{size}.png"
    assert browser.find_element(By.CSS_SELECTOR, "#device-qr svg").screenshot(str(picture))
    [pairing_url] = decode_qr(picture)
    assert (
        pairing_url
        == text_of(browser, "#device-link")
        == browser.find_element(By.ID, "device-link").get_attribute("href")
    )
    token = pairing_url.split("#device=", 1)[1]
    device = {"Authorization": f"Bearer {token}"}
    paired = send(server, "GET", "/api/checkin/device", None, device)
    assert (paired.status, paired.body["eventId"], paired.body["gate"]) == (200, "gig", "north-1")

    click(browser, "#device-pairing-done")
    assert not browser.find_element(By.ID, "device-pairing").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#device-qr svg") == []  # gone: shown once

    click(browser, "#devices-list button.revoke")
    browser.switch_to.alert.dismiss()  # not confirmed: nothing happens
    assert send(server, "GET", "/api/checkin/device", None, device).status == 200
    click(browser, "#devices-list button.revoke")
    browser.switch_to.alert.accept()
    wait_for_match(browser, "#devices-list", r"North door, phone 1\s+north-1\s+Revoked \d{4}-\d\d-\d\d [\d:]{8} UTC")
    assert browser.find_elements(By.CSS_SELECTOR, "#devices-list button.revoke") == []
    assert severe_messages(browser) == []  # no CSP violation, no script error
    refused = send(server, "GET", "/api/checkin/device", None, device)
    assert (refused.status, refused.body["error"]["code"]) == (403, "DEVICE_REVOKED")


def test_a_viewer_does_not_see_the_door_devices(server: str, browser: WebDriver):
    sign_in(browser, server, VIEWER)
    wait_for(browser, lambda d: d.find_element(By.ID, "second-factor").is_displayed(), "the viewer's own section")
    assert not browser.find_element(By.ID, "devices").is_displayed()
