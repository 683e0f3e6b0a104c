"""The services of a process (the ledger, its read tables, the door, the waiting room and what
keeps them in step), made once and kept in ``app.extensions["services"]``.

Built inside ``create_app``, which gunicorn calls in each worker after forking (never
with ``--preload``), so every worker has its own connection pool.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from eventsourcing.sqlite import SQLiteFactory
from flask import Flask, Response, current_app, request

from application import BookingLedger
from application.booking.waiting_list import WaitingList
from application.checkin.codes import TicketCodes
from application.checkin.door import Door
from application.payments.bank import BankStatementImport
from application.payments.cards import CardPayments
from application.payments.desk import PaymentDesk
from application.staff.accounts import StaffAccounts
from application.waiting_room.checkout import Checkout
from application.waiting_room.place_watch import PlaceWatch
from projections import HoldExpiry, LedgerView, Projector, open_view
from projections.integrations.runner import Integrations
from projections.read_model.replica import falling_back, replica_view
from web.http.tier_board import TierBoard
from web.http.tier_news import TierNews
from web.schemas.tiers import ListedTierSchema
from web.settings import parse_demo_tiers
from web.waiting_rooms import open_waiting_rooms

log = logging.getLogger(__name__)


class Services:
    """What the views need: the write side, the read side, and how to keep them in step."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.ledger = BookingLedger(env=config["LEDGER_ENV"])
        self.view: LedgerView = open_view(self.ledger)
        self.projector = Projector(self.ledger, self.view)
        self.door = Door(self.ledger, TicketCodes(self.ledger.secret), self.main_tiers)
        read = self.view.list_tiers
        if config["READ_REPLICA"]:  # the tier list from a standby while the primary does not answer
            read = falling_back(read, replica_view(self.ledger, config["READ_REPLICA"]).list_tiers)
        self.board = TierBoard(read, ListedTierSchema(many=True).dump)
        self.tier_news = TierNews(lambda: self.board.get().line())  # every tier stream's one reader
        self.rooms = open_waiting_rooms(config, self.ledger, self.board)
        self.checkout = Checkout(self.ledger, self.rooms)
        self.payments = PaymentDesk(self.ledger)  # docs/payments.md
        self.waiting_list = WaitingList(self.ledger)  # docs/on-sale.md#the-waiting-list
        self.bank_import = BankStatementImport(self.payments)
        self.cards = open_cards(config, self.payments)
        self.place_watch = PlaceWatch(self.rooms.progress)
        self.expiry = HoldExpiry(self.ledger, self.view, expired=self.written)
        self.project_in_process = switch(config["PROJECT_IN_PROCESS"], isinstance(self.ledger.factory, SQLiteFactory))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if switch(config["EXPIRE_HOLDS_IN_PROCESS"], self.project_in_process):
            self._threads.append(self.expiry.start(self._stop))
        self.integrations = Integrations(self.ledger)
        if switch(config["INTEGRATIONS_IN_PROCESS"], self.project_in_process):
            self._threads += self.integrations.start(self._stop)
        for tier in parse_demo_tiers(config["DEMO_TIERS"]):
            self.ledger.ensure_tier(*tier)
        self.staff = StaffAccounts(self.ledger, timedelta(hours=float(config["STAFF_SESSION_HOURS"])))
        self.staff.ensure_default_organizer()
        if self.project_in_process:
            self.projector.catch_up()
            self._threads.append(self.projector.start(self._stop, interval=1.0))

    def main_tiers(self) -> frozenset[str]:
        """The default event's tiers, for a door device of that event (``Door.tiers_of``)."""
        return frozenset(row.tier for row in self.view.list_tiers())

    def caught_up_integrations(self) -> Integrations:
        """The integration tables; where this process keeps the read tables up to date (the
        SQLite default), with the outbox brought up to date first, so reads see every write."""
        if self.project_in_process:
            self.integrations.outbox.catch_up()
        return self.integrations

    def written(self) -> None:
        """Call after a command: brings the read tables up to date when projecting here,
        so the client's next read sees its write. Never raises: the command is recorded
        and its client must hear so. Read tables that could not be brought up to date
        now (SQLite busy, say) are by the next command or the following thread, within
        a second."""
        if self.project_in_process:
            try:
                self.projector.catch_up()
                self.board.forget()
            except Exception:
                log.exception("the read tables could not catch up after a command; the following thread will")

    def close(self) -> None:
        """Stop expiring holds, following and the integrations (let a tick in progress
        finish), then close the store."""
        self._stop.set()
        self.tier_news.close()
        for thread in self._threads:
            thread.join(timeout=10)
        self.rooms.close()
        self.ledger.close()


def open_cards(config: dict[str, Any], desk: PaymentDesk) -> CardPayments | None:
    """Card payments through Stripe where a secret key is set; without one, none."""
    if not config["STRIPE_SECRET_KEY"]:
        return None
    return CardPayments(desk, config["STRIPE_SECRET_KEY"], config["STRIPE_WEBHOOK_SECRET"], config["STRIPE_API_BASE"])


def switch(setting: object, auto: bool) -> bool:
    """A yes/no setting that may be "auto"."""
    text = str(setting).lower()
    return auto if text == "auto" else text in ("1", "true", "yes", "y")


def init_services(app: Flask) -> Services:
    """Build the services, keep them in ``app.extensions``, and project after writes."""
    services = Services(app.config)
    app.extensions["services"] = services

    @app.after_request
    def project_writes(response: Response) -> Response:
        """After every command that succeeded, bring the read tables up to date
        (when projecting here), so the client's next read sees its write."""
        if request.method == "POST" and response.status_code < 400:
            services.written()
        return response

    return services


def services() -> Services:
    """The services of the app that answers the request."""
    return current_app.extensions["services"]
