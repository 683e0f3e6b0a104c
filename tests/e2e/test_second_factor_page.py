"""A member of staff turns on their second factor on the dashboard, in headless Chromium at a
phone's and a desktop's width: the page draws the key's QR code, which a real decoder
(``zbarimg``) reads off a screenshot as the authenticator's ``otpauth://`` URI, refuses a code
that is not the app's, and turns TOTP on with the code the app shows; from then on signing in
without a code is refused. The enrolment's boxes are checked too: the code square and big
enough to scan, its label over its field, nothing overlapping, nothing wider than the screen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import SCREENSHOTS, click, screenshot, text_of, wait_for
from tests.e2e.staff_http import send
from tests.e2e.test_scanner_page import box, overlap
from tests.e2e.test_ticket_qr import decode_qr
from tests.processes import clean_sqlite_gunicorn

ADMIN = {"Authorization": "Bearer second-factor-admin"}
EMAIL, PASSWORD = "ana@enrol.example", "a long first password"
SETTINGS = {
    "DEMO_TIERS": "GA:10.00:100",
    "ADMIN_TOKEN": "second-factor-admin",
    "ADMIN_AUTH_RATE_LIMIT": "",
    "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "",
    "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "",
}
SIZES = {"phone": (390, 844), "desktop": (1280, 1000)}
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(SETTINGS, tmp_path) as base:
        member = {"email": EMAIL, "role": "manager", "password": PASSWORD}
        assert send(base, "POST", "/api/admin/organizers/default/members", member, ADMIN).status == 201
        yield base


@pytest.mark.parametrize("size", SIZES)
def test_a_member_scans_the_key_s_qr_code_and_turns_the_second_factor_on(server: str, browser: WebDriver, size: str):
    browser.set_window_size(*SIZES[size])
    browser.get(f"{server}/admin")
    browser.find_element(By.ID, "email").send_keys(EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click(browser, "#sign-in")
    wait_for(browser, lambda d: text_of(d, "#second-factor-state").startswith("Off"), "the second factor's state")
    click(browser, "#second-factor-start")
    wait_for(browser, lambda d: d.find_element(By.ID, "second-factor-form").is_displayed(), "the enrolment")
    browser.execute_script("document.getElementById('second-factor').scrollIntoView()")

    qr, field = box(browser, "#second-factor-qr"), box(browser, "#second-factor-code")
    label, button = box(browser, "label[for=second-factor-code]"), box(browser, "#second-factor-confirm")
    assert qr["width"] == qr["height"] >= 150
    assert label["bottom"] <= field["top"] + 1 and abs(label["left"] - field["left"]) <= 2
    assert not any(overlap(a, b) for a, b in ((qr, field), (qr, label), (qr, button), (field, button)))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = SCREENSHOTS / f"second-factor-qr-{size}.png"
    assert browser.find_element(By.ID, "second-factor-qr").screenshot(str(picture))
    [uri] = decode_qr(picture)
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    assert uri.startswith("otpauth://totp/") and secret == text_of(browser, "#second-factor-secret")
    screenshot(browser, f"second-factor-{size}")

    totp = pyotp.TOTP(secret)
    browser.find_element(By.ID, "second-factor-code").send_keys(totp.at(time.time() + 3600))  # not now's
    click(browser, "#second-factor-confirm")
    wait_for(browser, lambda d: "Try the next code" in text_of(d, "#second-factor-error"), "the refusal")
    browser.find_element(By.ID, "second-factor-code").clear()
    browser.find_element(By.ID, "second-factor-code").send_keys(totp.now())
    click(browser, "#second-factor-confirm")
    wait_for(browser, lambda d: text_of(d, "#second-factor-state").startswith("On"), "the second factor on")
    assert not browser.find_element(By.ID, "second-factor-form").is_displayed()

    without_code = send(server, "POST", "/api/staff/sign-in", {"email": EMAIL, "password": PASSWORD, "code": ""})
    assert without_code.status == 401
