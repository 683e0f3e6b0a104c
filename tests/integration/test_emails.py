"""Confirmation emails, received by a real SMTP server: one per confirmed booking and
per cancellation, plain text and HTML, and exactly one each through concurrent senders
and a crash at any point, except a crash between the server's acceptance and the send
record, which sends that one message again with the same Message-ID."""

from __future__ import annotations

import dataclasses
import random
import smtplib
import threading
from collections import Counter
from decimal import Decimal

import pytest

from application import BookingLedger
from projections.integrations.emails import EmailSender, EmailSettings
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from scripts.harness.processes import free_port, wait_for
from tests.integration.smtp_inbox import smtp_inbox


@pytest.fixture
def outbox(ledger: BookingLedger) -> Outbox:
    ledger.create_tier("VIP", Decimal("100.00"), 1000)
    return Outbox(ledger, IntegrationTables(ledger))


def test_a_confirmed_booking_a_confirmed_hold_and_a_cancellation_each_get_one_email(ledger, outbox):
    with smtp_inbox() as (inbox, settings):
        sender = EmailSender(outbox.tables, settings)
        alice = ledger.book("alice", "VIP", 2)
        bob = ledger.hold("bob", "VIP", 1)
        ledger.confirm_hold(bob.booking_id, "bob")
        carol = ledger.hold("carol", "VIP", 1)
        ledger.release_hold(carol.booking_id, "carol")  # a hold given up: no email
        ledger.cancel(alice.booking_id, "alice")
        outbox.catch_up()
        assert sender.send_due() == 3
        assert sender.send_due() == 0
        confirmed, confirmed_hold, cancelled = inbox.messages
        assert confirmed["Message-ID"] == f"<confirmed.{alice.booking_id}@ledger.test>"
        assert (confirmed["To"], confirmed["From"]) == ("alice@example.test", "tickets@ledger.test")
        assert confirmed["Subject"] == "Your booking is confirmed: 2 × VIP"
        text = confirmed.get_body(("plain",)).get_content()
        html = confirmed.get_body(("html",)).get_content()
        assert "2 ticket(s) of tier VIP" in text and str(alice.booking_id) in text and "<" not in text
        assert "<strong>2 ticket(s) of tier VIP</strong>" in html and str(alice.booking_id) in html
        assert (
            confirmed_hold["To"] == "bob@example.test"
            and str(bob.booking_id) in confirmed_hold.get_body(("plain",)).get_content()
        )
        assert cancelled["Message-ID"] == f"<cancelled.{alice.booking_id}@ledger.test>"
        assert "is cancelled" in cancelled.get_body(("plain",)).get_content()
        assert [s["state"] for s in sender.sends()] == ["sent"] * 3


def test_emails_start_with_what_happens_after_they_are_turned_on(ledger, outbox):
    ledger.book("before", "VIP", 1)
    outbox.catch_up()
    with smtp_inbox() as (inbox, settings):
        sender = EmailSender(outbox.tables, settings)
        ledger.book("after", "VIP", 1)
        outbox.catch_up()
        sender.send_due()
        assert [m["To"] for m in inbox.messages] == ["after@example.test"]


def test_a_user_id_that_makes_no_address_is_skipped_and_holds_up_nothing(ledger, outbox):
    with smtp_inbox() as (inbox, settings):
        sender = EmailSender(outbox.tables, settings)
        ledger.book("not an address", "VIP", 1)
        ledger.book("dave", "VIP", 1)
        outbox.catch_up()
        assert sender.send_due() == 1
        assert [m["To"] for m in inbox.messages] == ["dave@example.test"]
        assert [s["state"] for s in sender.sends()] == ["skipped", "sent"]


def test_while_the_server_is_down_nothing_is_lost_and_it_is_sent_when_it_is_back(ledger, outbox):
    with smtp_inbox() as (inbox, settings):
        sender = EmailSender(outbox.tables, settings)
        ledger.book("erin", "VIP", 1)
        outbox.catch_up()
        sender.settings = dataclasses.replace(settings, port=free_port())  # nothing listens there
        with pytest.raises(OSError):
            sender.send_due()
        assert inbox.messages == [] and [s["state"] for s in sender.sends()] == ["sending"]
        sender.settings = settings
        assert sender.send_due() == 1
        assert [m["To"] for m in inbox.messages] == ["erin@example.test"]


class Crash(BaseException):
    """The sender's process dies here (nothing of it runs afterwards)."""


def crashing(sender: EmailSender, where: str, at: int) -> EmailSender:
    """Make ``sender`` die at its ``at``-th send: before the SMTP server has the message
    ("before"), after the server accepted it but before the record says so ("between"),
    or right after the record ("after")."""
    real_send, real_finish, sends = sender._send, sender._finish, []

    def send(smtp, message):
        sends.append(message)
        if where == "before" and len(sends) == at:
            raise Crash()
        return real_send(smtp, message)

    def finish(*args):
        if where == "between" and len(sends) == at:
            raise Crash()
        done = real_finish(*args)
        if where == "after" and len(sends) == at:
            raise Crash()
        return done

    sender._send, sender._finish = send, finish
    return sender


def keep_sending(sender: EmailSender, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            try:
                sender.send_due()
            except Crash:
                return
            except (smtplib.SMTPException, OSError):
                pass
            stop.wait(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_many_bookings_a_crash_and_two_senders_give_one_email_per_confirmed_booking(ledger, outbox, where):
    with smtp_inbox() as (inbox, settings):
        # A dead sender's claim lapses soon, but not before a live one (on a busy machine) is done.
        settings = dataclasses.replace(settings, claim_seconds=3.0)
        tables, stop = outbox.tables, threading.Event()
        try:
            doomed = keep_sending(crashing(EmailSender(tables, settings), where, at=random.randint(5, 60)), stop)
            receipts = book_and_cancel(ledger, outbox, users=80)
            doomed.join(timeout=60)
            assert not doomed.is_alive()
            # The crashed sender restarted, and another beside it.
            senders = [keep_sending(EmailSender(tables, settings), stop) for _ in range(2)]
            expected = {f"<confirmed.{r.booking_id}@ledger.test>" for r in receipts}
            expected |= {f"<cancelled.{r.booking_id}@ledger.test>" for r in receipts[::4]}
            wait_for(
                lambda: (
                    set(inbox.message_ids()) == expected
                    and all(s["state"] == "sent" for s in EmailSender(tables, settings).sends())
                ),
                timeout=30,
                what="every email",
            )
        finally:
            stop.set()
        for sender in senders:
            sender.join(timeout=10)
        twice = {mid: n for mid, n in Counter(inbox.message_ids()).items() if n > 1}
        if where == "between":  # the one the server had when the sender died, again, the same
            assert len(twice) == 1 and list(twice.values()) == [2]
            first, again = (m for m in inbox.messages if m["Message-ID"] in twice)
            assert first.as_bytes() == again.as_bytes()
        else:
            assert twice == {}


def book_and_cancel(ledger: BookingLedger, outbox: Outbox, users: int) -> list:
    """Book for ``users`` users from 8 threads at once, cancel every fourth, keep the outbox up to date."""
    receipts: list = [None] * users

    def book(start: int) -> None:
        for n in range(start, users, 8):
            receipts[n] = ledger.book(f"user{n}", "VIP", 1 + n % 3)
            outbox.catch_up()

    threads = [threading.Thread(target=book, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for receipt in receipts[::4]:
        ledger.cancel(receipt.booking_id, f"user{receipts.index(receipt)}")
    outbox.catch_up()
    return receipts


def test_the_settings_are_off_without_a_host_and_refuse_an_unknown_security():
    assert EmailSettings.from_env({}) is None
    assert EmailSettings.from_env({"SMTP_HOST": "mail", "SMTP_SECURITY": "tls"}).port == 465
    with pytest.raises(ValueError):
        EmailSettings.from_env({"SMTP_HOST": "mail", "SMTP_SECURITY": "ssl3"})
