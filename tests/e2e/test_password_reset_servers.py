"""Password reset by email, from outside: a real gunicorn server mails a real SMTP server
(aiosmtpd on loopback) over the confirmation emails' settings. An owner invites a member
without a password; the member follows the mailed link's token to choose one and signs in;
the token works once; a reset ends the sessions open before it; an unknown email is answered
the same and mailed nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.browser import wait_for, wait_for_text
from tests.e2e.staff_http import send, sign_in
from tests.integration.smtp_inbox import Inbox, smtp_inbox
from tests.processes import clean_sqlite_gunicorn

ADMIN = {"Authorization": "Bearer reset-admin-token"}
PASSWORD = "the member's chosen password"


@pytest.fixture
def mailing_server(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    with smtp_inbox() as (inbox, smtp):
        settings = {
            "ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "EMAIL_FROM": "tickets@example.test",
            "STAFF_BASE_URL": "https://tickets.example.test",
            "INTEGRATIONS_IN_PROCESS": "no",
        }
        with clean_sqlite_gunicorn(settings, tmp_path) as base:
            yield base, inbox


def mailed_token(inbox: Inbox, count: int) -> str:
    assert len(inbox.messages) == count
    message = inbox.messages[-1]
    match = re.search(r"https://tickets\.example\.test/admin#reset=(\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def test_an_invited_member_chooses_a_password_by_the_mailed_link_once(mailing_server):
    base, inbox = mailing_server
    invited = send(
        base, "POST", "/api/admin/organizers/default/members", {"email": "new@example.test", "role": "viewer"}, ADMIN
    )
    assert invited.status == 201
    assert inbox.messages[0]["To"] == "new@example.test"
    token = mailed_token(inbox, 1)
    refused = send(base, "POST", "/api/staff/sign-in", {"email": "new@example.test", "password": PASSWORD})
    assert refused.status == 401  # no password yet
    assert send(base, "POST", "/api/staff/password-reset/confirm", {"token": token, "password": PASSWORD}).status == 200
    session = sign_in(base, "new@example.test", PASSWORD)
    again = send(
        base, "POST", "/api/staff/password-reset/confirm", {"token": token, "password": "another long password"}
    )
    assert (again.status, again.body["error"]["code"]) == (422, "RESET_REFUSED")

    assert send(base, "POST", "/api/staff/password-reset", {"email": "new@example.test"}).status == 202
    second = mailed_token(inbox, 2)
    assert (
        send(
            base, "POST", "/api/staff/password-reset/confirm", {"token": second, "password": "a newer long password"}
        ).status
        == 200
    )
    assert send(base, "GET", "/api/staff/me", None, session.headers(change=False)).status == 401  # ended by the reset

    unknown = send(base, "POST", "/api/staff/password-reset", {"email": "nobody@example.test"})
    assert (unknown.status, unknown.body) == (202, {"done": True})
    assert len(inbox.messages) == 2


def test_the_mailed_link_opens_the_dashboard_to_choose_the_password(mailing_server, browser):
    base, inbox = mailing_server
    invited = send(
        base, "POST", "/api/admin/organizers/default/members", {"email": "b@example.test", "role": "owner"}, ADMIN
    )
    assert invited.status == 201
    browser.get(f"{base}/admin#reset={mailed_token(inbox, 1)}")
    wait_for(browser, lambda d: d.find_element(By.ID, "reset-form").is_displayed(), "the new password form")
    browser.find_element(By.ID, "new-password").send_keys(PASSWORD)
    browser.find_element(By.ID, "set-password").click()
    wait_for_text(browser, "#login-error", "Password set: sign in with it.")
    assert browser.execute_script("return location.hash") == ""
    assert sign_in(base, "b@example.test", PASSWORD).csrf
