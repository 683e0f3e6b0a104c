"""Confirmation emails: one per confirmed booking, cancellation, payment awaited and refund sent, over SMTP.

Off unless ``SMTP_HOST`` is set. The sender follows the outbox (``booking.confirmed``
and ``hold.confirmed`` make a booking confirmed, ``booking.cancelled`` cancels it) from a
position of its own, which starts at the outbox's head the first time, so turning emails
on does not mail the whole history. What each message says is ``email_messages.py``'s:
it depends only on the notice, so a message sent again is the same message.

What "exactly once" means here. Each message has a deterministic Message-ID
(``<confirmed.BOOKING_ID@domain>``) and a send record, in two phases:

1. *claim*: insert the record as ``sending`` (by this sender, now), committed;
2. send over SMTP;
3. *finish*: mark it ``sent`` and move the position past the notice, in one transaction.

A record already ``sent`` (or ``skipped``, ``refused``) is never sent again, whatever
the position says, and a fresh claim by another sender makes this one wait, so two
processes never send one message between them. A sender that dies after its claim
leaves the record ``sending``; after ``EMAIL_CLAIM_SECONDS`` another sender (or the
restarted one) takes it over and sends. If it died before the SMTP server accepted the
message, that is the only send. If it died in the milliseconds between the server's
acceptance and the finish, the message goes out a second time, with the same
Message-ID, which mail stores de-duplicate. So: exactly once, except for a crash
inside that window, where it is at least once with the same Message-ID. No protocol
can do better: SMTP cannot be asked whether it already has a message. (The claim's
lifetime must be longer than a live send can take, or a slow sender's message is taken
over and sent twice: the default, 300 s, covers the connection and a message's five
commands at the default ``SMTP_TIMEOUT`` of 30 s.)

The ledger knows users only by id: the address is ``EMAIL_TO`` with ``{user_id}``
filled in (by default the user id itself). A user id that makes no valid address is
recorded as ``skipped``; an address the server refuses for good (5xx) as ``refused``;
neither holds up the emails behind it. Anything else (the server down, a 4xx) is tried
again with back-off, from the same message.
"""

from __future__ import annotations

import json
import logging
import random
import smtplib
import socket
import ssl
import threading
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import InterfaceError, OperationalError

from application.checkin.codes import TicketCodes
from domain.tickets import TicketRef
from projections.integrations.email_messages import KINDS, address, compose, message_id
from projections.integrations.outbox import wait_for_news
from projections.integrations.store import IntegrationTables, StoredNotice, utc_now

log = logging.getLogger(__name__)
POSITION = "emails"
SENT, SKIPPED, REFUSED = "sent", "skipped", "refused"

CLAIM = (
    "INSERT INTO {p}email_sends (message_id, booking_id, kind, position, recipient, state, claimed_by, claimed_at) "
    "VALUES (:message_id, :booking_id, :kind, :position, :recipient, 'sending', :owner, :now) "
    "ON CONFLICT (message_id) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at "
    "WHERE email_sends.state = 'sending' "
    "AND (email_sends.claimed_by = excluded.claimed_by OR email_sends.claimed_at < :stale) "
    "RETURNING message_id"
)
SELECT_STATE = "SELECT state FROM {p}email_sends WHERE message_id = :message_id"
FINISH = "UPDATE {p}email_sends SET state = :state, done_at = :now, detail = :detail WHERE message_id = :message_id"
SELECT_SENDS = "SELECT message_id, booking_id, kind, recipient, state, detail FROM {p}email_sends ORDER BY position"


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls, tls (SMTPS) or none
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    sender: str = "tickets@localhost"
    recipient: str = "{user_id}"
    # After this, another sender takes over an unfinished send: longer than a live send
    # can take (a connection and a message's five commands, each up to ``timeout``).
    claim_seconds: float = 300.0
    poll_interval: float = 0.05
    # Where a payment awaited is to be sent (BANK_ACCOUNT_HOLDER, BANK_ACCOUNT_IBAN), as the
    # booking's payment page says: configuration, not history, so not in the notice.
    bank_account_holder: str = ""
    bank_iban: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EmailSettings | None:
        """The settings, or None when ``SMTP_HOST`` is empty (emails off)."""
        if not env.get("SMTP_HOST"):
            return None
        security = env.get("SMTP_SECURITY", "starttls")
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP_SECURITY must be starttls, tls or none, not {security!r}")
        return cls(
            host=env["SMTP_HOST"],
            port=int(env.get("SMTP_PORT") or (465 if security == "tls" else 587)),
            security=security,
            username=env.get("SMTP_USERNAME", ""),
            password=env.get("SMTP_PASSWORD", ""),
            timeout=float(env.get("SMTP_TIMEOUT") or cls.timeout),
            sender=env.get("EMAIL_FROM") or cls.sender,
            recipient=env.get("EMAIL_TO") or cls.recipient,
            claim_seconds=float(env.get("EMAIL_CLAIM_SECONDS") or cls.claim_seconds),
            poll_interval=float(env.get("PROJECTION_POLL_INTERVAL") or cls.poll_interval),
            bank_account_holder=env.get("BANK_ACCOUNT_HOLDER", ""),
            bank_iban=env.get("BANK_ACCOUNT_IBAN", ""),
        )

    @property
    def bank(self) -> dict[str, str]:
        return {"account_holder": self.bank_account_holder, "iban": self.bank_iban}

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=context)
        # Each message is a few small commands and answers: without this, Nagle's
        # algorithm holds each command back until the server's delayed ACK.
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.username:
            smtp.login(self.username, self.password)
        return smtp


class EmailSender:
    """Sends the emails the outbox calls for, each once (see the module's docstring)."""

    def __init__(
        self,
        tables: IntegrationTables,
        settings: EmailSettings,
        news: threading.Condition | None = None,
        codes: TicketCodes | None = None,
    ) -> None:
        self.tables = tables
        self.settings = settings
        self.codes = codes  # signs the tickets a confirmation carries; none: no tickets in it
        self.news = news
        self.owner = uuid4().hex  # this sender's claims
        tables.start_position(POSITION, tables.head())

    def send_due(self) -> int:
        """Send what is due, in order, over one SMTP connection; return how many were
        sent. Raises the SMTP or network error that stopped it (the rest waits)."""
        sent = 0
        smtp: smtplib.SMTP | None = None
        try:
            position = self.tables.position(POSITION) or 0
            for notice in self.tables.notices_after(position, 100, list(KINDS)):
                data, kind = json.loads(notice.body), KINDS[notice.type]
                mid, recipient = message_id(data, kind, self.settings.sender), self._recipient(data)
                if not self._claim(notice, data, kind, mid, recipient):
                    break  # another sender has it now: let it finish
                if self._state(mid) == "sending":
                    if recipient is None:
                        state, detail = SKIPPED, f"user {data['userId']!r} makes no email address"
                    else:
                        smtp = smtp or self.settings.connect()
                        tickets = self._tickets(data, kind)
                        message = compose(data, kind, self.settings.sender, recipient, tickets, self.settings.bank)
                        state, detail = self._send(smtp, message)
                    sent += state == SENT
                    if not self._finish(mid, state, detail, position, notice.position):
                        break
                elif not self._move(position, notice.position):
                    break
                position = notice.position
        finally:
            if smtp is not None:
                with suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
        return sent

    def _tickets(self, data: dict[str, Any], kind: str) -> list[str]:
        """A confirmation's tickets: one signed code per seat of the booking."""
        if self.codes is None or kind != "confirmed":
            return []
        booking_id = UUID(data["bookingId"])
        return [self.codes.sign(TicketRef(booking_id, seat)) for seat in range(data["quantity"])]

    def _recipient(self, data: dict[str, Any]) -> str | None:
        user_id = data["userId"]  # None only on cancellations recorded before domain events carried it
        return None if user_id is None else address(self.settings.recipient.format(user_id=user_id))

    def _claim(self, notice: StoredNotice, data: dict[str, Any], kind: str, mid: str, recipient: str | None) -> bool:
        """Claim the send, or find it done already (True); False while another sender has it."""
        now = utc_now()
        with self.tables.transaction() as tx:
            claimed = tx.rows(
                CLAIM,
                message_id=mid,
                booking_id=data["bookingId"],
                kind=kind,
                position=notice.position,
                recipient=recipient or "",
                owner=self.owner,
                now=now,
                stale=now - timedelta(seconds=self.settings.claim_seconds),
            )
        return bool(claimed) or self._state(mid) != "sending"

    def _state(self, mid: str) -> str:
        return self.tables.rows(SELECT_STATE, message_id=mid)[0]["state"]

    @staticmethod
    def _send(smtp: smtplib.SMTP, message: EmailMessage) -> tuple[str, str | None]:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            return REFUSED, str(refused.recipients)
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500:
                return REFUSED, f"{error.smtp_code} {error.smtp_error!r}"
            raise
        return SENT, None

    def _finish(self, mid: str, state: str, detail: str | None, old: int, new: int) -> bool:
        """Record the outcome and move the position, in one transaction (False: another
        sender moved the position meanwhile; the outcome is recorded all the same)."""
        with self.tables.transaction() as tx:
            tx.execute(FINISH, message_id=mid, state=state, now=utc_now(), detail=detail)
            return tx.move_position(POSITION, old, new)

    def _move(self, old: int, new: int) -> bool:
        with self.tables.transaction() as tx:
            return tx.move_position(POSITION, old, new)

    def sends(self) -> list[dict[str, Any]]:
        """Every send record, in the outbox's order."""
        return self.tables.rows(SELECT_SENDS)

    def run(self, stop: threading.Event) -> None:
        """Send as notices arrive until ``stop``; after a failure wait a jittered, doubling time."""
        failures = 0
        while not stop.is_set():
            try:
                self.send_due()
                failures = 0
            except (smtplib.SMTPException, OSError, OperationalError, InterfaceError) as error:
                failures += 1
                log.warning("emails: sending failed (%d in a row), trying again: %s", failures, error)
                stop.wait(random.uniform(0, min(60.0, 0.5 * 2**failures)))
                continue
            wait_for_news(self.news, stop, self.settings.poll_interval)
