"""The scanner page (``/scanner``) in headless Chromium, at a phone's width (390×844) and a
desktop's (1280×1000), judged by its elements' boxes, not only by screenshots: every label
over its own field and the fields one under another at the form's full width (the code
field was squeezed beside the token at desktop width), the title over the form and aligned
with it (it stood apart), the offline checkbox a checkbox-sized box beside its label (it
was a large empty box floating above it on phones), nothing overlapping, nothing wider
than the screen. Then a door device paired from its link: the page opens on its event and
gate, shows each answer big (admitted; already in, where and when; not valid, why), the
last scans and the offline scans waiting, and says when the device was revoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import click, screenshot, text_of, wait_for
from tests.e2e.staff_http import send
from tests.processes import clean_sqlite_gunicorn

ADMIN = {"Authorization": "Bearer scanner-page-admin"}
SETTINGS = {
    "DEMO_TIERS": "GA:10.00:100",
    "BOOKING_RATE_LIMIT": "",
    "ADMIN_AUTH_RATE_LIMIT": "",
    "ADMIN_TOKEN": "scanner-page-admin",
    "SCANNER_TOKEN": "scanner-page-door",
}
SIZES = {"phone": (390, 844), "desktop": (1280, 1000)}
pytestmark = pytest.mark.slow

Box = dict[str, float]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(SETTINGS, tmp_path) as base:
        event = {"eventId": "gig", "name": "The Gig", "tiers": [{"tier": "GIG", "price": "5.00", "capacity": 50}]}
        assert send(base, "POST", "/api/admin/events", event, ADMIN).status == 201
        yield base


def box(browser: WebDriver, selector: str) -> Box:
    found: Box = browser.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};",
        selector,
    )
    return found


def overlap(a: Box, b: Box) -> bool:
    return (
        a["left"] < b["right"] - 1
        and b["left"] < a["right"] - 1
        and a["top"] < b["bottom"] - 1
        and b["top"] < a["bottom"] - 1
    )


def layout_faults(browser: WebDriver, fields: tuple[str, ...]) -> list[str]:
    """What is wrong with the form's layout, as element boxes show it (nothing: [])."""
    faults = []
    form = box(browser, "#scan-form")
    for name in fields:
        label, control = box(browser, f"label[for={name}]"), box(browser, f"#{name}")
        if not (label["bottom"] <= control["top"] + 1 and abs(label["left"] - control["left"]) <= 2):
            faults.append(f"the label of #{name} is not over it: {label} {control}")
        if abs(control["left"] - form["left"]) > 2 or control["width"] < 0.98 * form["width"]:
            faults.append(f"#{name} does not take the form's width: {control} in {form}")
    title = box(browser, "h1")
    if abs(title["left"] - form["left"]) > 2 or not 0 <= form["top"] - title["bottom"] <= 120:
        faults.append(f"the title stands apart from the form: {title} {form}")
    checkbox, its_label = box(browser, "#offline"), box(browser, "#offline-label")
    if not (12 <= checkbox["width"] <= 32 and 12 <= checkbox["height"] <= 32):
        faults.append(f"the checkbox is no checkbox's size: {checkbox}")
    middle = (its_label["top"] + its_label["bottom"]) / 2
    if not (checkbox["right"] <= its_label["left"] and checkbox["top"] <= middle <= checkbox["bottom"] + 8):
        faults.append(f"the checkbox is not beside its label: {checkbox} {its_label}")
    parts = [f".field:has(#{name})" for name in fields] + [".check", "#scan-button", "#upload-button", "h1"]
    boxes = {part: box(browser, part) for part in parts}
    faults += [f"{a} overlaps {b}" for a in parts for b in parts if a < b and overlap(boxes[a], boxes[b])]
    if browser.execute_script("return document.documentElement.scrollWidth > window.innerWidth"):
        faults.append("the page is wider than the screen")
    return faults


@pytest.mark.parametrize("size", SIZES)
def test_the_scanner_form_lines_up_at_phone_and_desktop_width(server: str, browser: WebDriver, size: str):
    browser.set_window_size(*SIZES[size])
    browser.get(f"{server}/scanner")
    wait_for(browser, lambda d: d.find_element(By.ID, "upload-button").text == "Upload 0 scans", "the page")
    screenshot(browser, f"scanner-form-{size}")
    assert layout_faults(browser, ("gate", "token", "code")) == []


def register_device(server: str) -> dict[str, Any]:
    answer = send(server, "POST", "/api/admin/events/gig/devices", {"name": "North phone", "gate": "north-1"}, ADMIN)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def codes(server: str, tier: str, quantity: int) -> list[str]:
    booked = send(server, "POST", "/api/tickets/book", {"userId": f"fan-{tier}", "tier": tier, "quantity": quantity})
    assert booked.status == 201, booked.body
    return [t["code"] for t in send(server, "GET", f"/api/bookings/{booked.body['bookingId']}/tickets").body]


LOSE_NEXT_CHECKIN_ANSWER = """
const send = window.fetch;
window.fetch = async (path, options) => {
  const answer = await send(path, options);
  if (path !== "/api/checkin") return answer;
  window.fetch = send;
  const lost = {error: {code: "OUTCOME_UNKNOWN", message: "It may be stored.", details: []}};
  return new Response(JSON.stringify(lost), {status: 503, headers: {"Content-Type": "application/json"}});
};
"""


@pytest.mark.parametrize("size", SIZES)
def test_a_paired_device_opens_on_its_event_and_gate_and_shows_each_answer_big(
    server: str, browser: WebDriver, size: str
):
    device = register_device(server)
    gig, other = codes(server, "GIG", 4), codes(server, "GA", 1)
    browser.set_window_size(*SIZES[size])
    browser.get(device["pairingUrl"])
    wait_for(browser, lambda d: text_of(d, "#pairing") != "", "the pairing")
    assert text_of(browser, "#pairing") == "The Gig · gate north-1 · North phone"
    assert browser.execute_script("return location.hash") == ""  # the token out of the address bar
    assert browser.find_element(By.ID, "gate").get_attribute("value") == "north-1"
    assert not browser.find_element(By.ID, "token").is_displayed()
    assert layout_faults(browser, ("gate", "code")) == []

    def scan(code: str) -> tuple[str, str]:
        browser.execute_script("document.getElementById('verdict').textContent = ''")
        browser.find_element(By.ID, "code").send_keys(code)
        click(browser, "#scan-button")
        wait_for(browser, lambda d: text_of(d, "#verdict") != "", "an answer")
        return text_of(browser, "#verdict"), str(browser.find_element(By.ID, "verdict").get_attribute("data-answer"))

    text, answer = scan(gig[0])
    assert (answer, text) == ("admitted", "Admit: GIG #1 (fan-GIG)")
    verdict, main = box(browser, "#verdict"), box(browser, "main")
    size_px = browser.execute_script("return parseFloat(getComputedStyle(document.getElementById('verdict')).fontSize)")
    assert size_px >= 24 and verdict["width"] >= 0.9 * (main["width"] - 32)  # big, the column's width
    screenshot(browser, f"scanner-paired-admitted-{size}")
    text, answer = scan(gig[0])
    assert answer == "already-in" and text.startswith("Already in: gate north-1, ")
    text, answer = scan(other[0])  # another event's ticket: as a forged one
    assert (answer, text) == ("not-valid", "Refused: This is not a ticket of this ledger (forged or mistyped).")
    recent = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#recent li")]
    assert len(recent) == 3 and recent[0].endswith("(forged or mistyped).") and "Admit: GIG #1" in recent[2]

    # The server records a check-in but its answer is lost (a 503 "outcome unknown" instead):
    # that is no verdict on the ticket, and scanning it again is answered as the first time.
    browser.execute_script(LOSE_NEXT_CHECKIN_ANSWER)
    text, answer = scan(gig[3])
    assert (answer, text) == ("unanswered", "No answer from the server: scan again.")
    text, answer = scan(gig[3])
    assert (answer, text) == ("admitted", "Admit: GIG #4 (fan-GIG)")

    click(browser, "#offline")
    assert scan(gig[1]) == ("Kept offline: let in, upload later.", "kept")
    assert scan(gig[2])[1] == "kept"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#waiting li")) == 2
    assert layout_faults(browser, ("gate", "code")) == []
    screenshot(browser, f"scanner-paired-waiting-{size}")

    revoke = f"/api/admin/events/gig/devices/{device['deviceId']}/revoke"
    assert send(server, "POST", revoke, None, ADMIN).status == 200
    click(browser, "#upload-button")
    wait_for(browser, lambda d: "revoked" in text_of(d, "#pairing"), "the revocation to show")
    assert text_of(browser, "#verdict").startswith("Upload refused, scans kept: This device was revoked")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#waiting li")) == 2  # kept, for the manager
    screenshot(browser, f"scanner-revoked-{size}")
