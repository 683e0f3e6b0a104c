"""Tickets in a real browser and in the email: the QR code the booking page shows is read off a screenshot by a
real decoder (Debian's ``zbarimg``), and the code it holds is admitted at the door once; the
phone-sized scanner page admits, refuses a repeat, and uploads its offline scans with the
conflict reported. Chromium is Debian's, headless (``make test`` installs it and zbar-tools)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from application import BookingLedger
from application.checkin.codes import TicketCodes
from application.checkin.door import Door
from domain.tickets import TicketRef
from projections.integrations.email_messages import compose
from projections.integrations.emails import EmailSender
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from scripts.harness.processes import call
from tests.e2e.browser import SCREENSHOTS, click, screenshot, severe_messages, text_of, wait_for
from tests.integration.smtp_inbox import smtp_inbox
from tests.processes import clean_sqlite_gunicorn

SETTINGS = {"DEMO_TIERS": "VIP:100.00:10", "BOOKING_RATE_LIMIT": ""}
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with clean_sqlite_gunicorn(SETTINGS, tmp_path) as base:
        yield base


def decode_qr(png: Path) -> list[str]:
    """Every QR code zbarimg finds in the picture."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.fail("zbarimg missing: apt-get install zbar-tools (make test does it)")
    found = subprocess.run(
        [zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(png)], capture_output=True, text=True
    )
    return found.stdout.split()


def book_two_and_show_tickets(browser: WebDriver, server: str) -> None:
    browser.get(f"{server}/")
    wait_for(browser, lambda d: d.find_element(By.ID, "book-button").is_enabled(), "the page to load")
    Select(browser.find_element(By.ID, "tier")).select_by_value("VIP")
    quantity = browser.find_element(By.ID, "quantity")
    quantity.clear()
    quantity.send_keys("2")
    click(browser, "#book-button")
    click(browser, '#bookings [data-status="confirmed"] .tickets summary')
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".ticket svg")) == 2, "two QR codes")


def pictures_and_codes(browser: WebDriver) -> tuple[list[bytes], list[str]]:
    """Each ticket's picture and the code printed under it; read again if the list is drawn
    anew meanwhile (each change of availability draws it again)."""
    for _ in range(10):
        try:
            tickets = browser.find_elements(By.CSS_SELECTOR, ".ticket")
            return [t.screenshot_as_png for t in tickets], [
                t.find_element(By.CSS_SELECTOR, ".ticket-code").text for t in tickets
            ]
        except StaleElementReferenceException:
            time.sleep(0.2)
    raise AssertionError("the tickets never held still")


def test_the_qr_code_on_the_page_decodes_to_a_code_the_door_admits_once(server: str, browser: WebDriver) -> None:
    book_two_and_show_tickets(browser, server)
    screenshot(browser, "tickets")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pictures, shown = pictures_and_codes(browser)
    decoded = []
    for n, picture in enumerate(pictures):
        png = SCREENSHOTS / f"ticket-{n}.png"
        png.write_bytes(picture)
        decoded += decode_qr(png)
    assert decoded == shown and len(set(decoded)) == 2
    first = call(f"{server}/api/checkin", {"code": decoded[0], "gate": "north"})
    again = call(f"{server}/api/checkin", {"code": decoded[0], "gate": "south"})
    assert (first.status, again.status) == (200, 409)
    assert call(f"{server}/api/checkin", {"code": decoded[1], "gate": "south"}).status == 200
    assert severe_messages(browser) == []


def test_the_scanner_page_admits_refuses_a_repeat_and_uploads_offline_scans(server: str, browser: WebDriver) -> None:
    book_two_and_show_tickets(browser, server)
    codes = pictures_and_codes(browser)[1]
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{server}/scanner")
    browser.find_element(By.ID, "gate").send_keys("north")

    def scan(code: str) -> str:
        browser.execute_script("document.getElementById('verdict').textContent = ''")  # the last one
        browser.find_element(By.ID, "code").send_keys(code)
        click(browser, "#scan-button")
        wait_for(browser, lambda d: text_of(d, "#verdict") != "", "a verdict")
        return text_of(browser, "#verdict")

    assert scan(codes[0]).startswith("Admit: VIP #1")
    screenshot(browser, "scanner-admitted")
    assert "was checked in at" in scan(codes[0]) and "gate north" in text_of(browser, "#verdict")
    assert browser.find_element(By.ID, "verdict").get_attribute("data-kind") == "refused"
    assert scan(codes[0][:-4] + "AAAA").startswith("Refused: This is not a ticket")

    click(browser, "#offline")
    assert scan(codes[0]).startswith("Kept offline")  # let in while offline: a conflict later
    assert scan(codes[1]).startswith("Kept offline")
    assert browser.find_element(By.ID, "upload-button").text == "Upload 2 scans"
    click(browser, "#upload-button")
    wait_for(browser, lambda d: text_of(d, "#verdict").startswith("Uploaded."), "the upload")
    assert text_of(browser, "#verdict") == "Uploaded. 1 conflict(s) or refusal(s)."
    assert "also admitted at north" in text_of(browser, "#conflicts li")
    assert browser.find_element(By.ID, "upload-button").text == "Upload 0 scans"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "scanner-uploaded")
    refusals = ("409 (CONFLICT)", "422 (UNPROCESSABLE ENTITY)")  # the browser logs each refused scan
    assert [m for m in severe_messages(browser) if not m.startswith("/api/checkin ") or not m.endswith(refusals)] == []


def test_the_confirmation_emails_qr_codes_decode_to_codes_the_door_admits(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    with BookingLedger(env=env) as ledger, smtp_inbox() as (inbox, settings):
        ledger.create_tier("VIP", Decimal("100.00"), 10)
        outbox = Outbox(ledger, IntegrationTables(ledger))
        codes = TicketCodes(ledger.secret)
        sender = EmailSender(outbox.tables, settings, codes=codes)
        booked = ledger.book("alice", "VIP", 2)
        outbox.catch_up()
        assert sender.send_due() == 1
        (message,) = inbox.messages
        images = [part for part in message.walk() if part.get_content_type() == "image/png"]
        decoded = []
        for n, image in enumerate(images):
            png = tmp_path / f"email-ticket-{n}.png"
            png.write_bytes(image.get_content())
            decoded += decode_qr(png)
        assert decoded == [codes.sign(TicketRef(booked.booking_id, seat)) for seat in range(2)]
        html = message.get_body(("html",)).get_content()
        assert all(f'src="cid:{image["Content-ID"][1:-1]}"' in html for image in images)
        assert all(code in message.get_body(("plain",)).get_content() for code in decoded)
        door = Door(ledger, codes)
        assert [door.check_in(code, "north").seat for code in decoded] == [0, 1]
        (notice,) = outbox.tables.notices_after(0, 10, ["booking.confirmed"])
        once, twice = (
            compose(json.loads(notice.body), "confirmed", settings.sender, message["To"], decoded) for _ in "12"
        )
        assert once.as_bytes() == twice.as_bytes()  # a message sent again is the same message
