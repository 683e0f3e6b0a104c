"""The ledger and its read tables, made once per process and kept in ``app.extensions``.

Built inside ``create_app``, which gunicorn calls in each worker after forking (never
with ``--preload``), so every worker has its own connection pool.
"""

from __future__ import annotations

import threading
from typing import Any

from eventsourcing.sqlite import SQLiteFactory
from flask import Flask, Response, current_app, request

from application import BookingLedger
from projections import Follower, HoldExpiry, LedgerView, open_view
from web.settings import parse_demo_tiers
from web.waiting_rooms import open_waiting_rooms


class Services:
    """What the views need: the write side, the read side, and how to keep them in step."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.ledger = BookingLedger(env=config["LEDGER_ENV"])
        self.view: LedgerView = open_view(self.ledger)
        self.follower = Follower(self.ledger, self.view)
        self.rooms = open_waiting_rooms(config, self.ledger, self.view)
        self.expiry = HoldExpiry(self.ledger, self.view, expired=self.written)
        self.project_in_process = switch(config["PROJECT_IN_PROCESS"], isinstance(self.ledger.factory, SQLiteFactory))
        self._stop = threading.Event()
        self._expiring: threading.Thread | None = None
        if switch(config["EXPIRE_HOLDS_IN_PROCESS"], self.project_in_process):
            self._expiring = self.expiry.start(self._stop)
        for tier in parse_demo_tiers(config["DEMO_TIERS"]):
            self.ledger.ensure_tier(*tier)
        self.written()

    def written(self) -> None:
        """Call after a command: brings the read tables up to date when projecting here."""
        if self.project_in_process:
            self.follower.catch_up()

    def close(self) -> None:
        """Stop expiring holds (let a tick in progress finish), then close the store."""
        self._stop.set()
        if self._expiring is not None:
            self._expiring.join(timeout=10)
        self.rooms.close()
        self.ledger.close()


def switch(setting: object, auto: bool) -> bool:
    """A yes/no setting that may be "auto"."""
    text = str(setting).lower()
    return auto if text == "auto" else text in ("1", "true", "yes", "y")


def init_services(app: Flask) -> Services:
    """Build the services, keep them in ``app.extensions``, and project after writes."""
    services = Services(app.config)
    app.extensions["ledger"] = services

    @app.after_request
    def project_writes(response: Response) -> Response:
        """After every command that succeeded, bring the read tables up to date
        (when projecting here), so the client's next read sees its write."""
        if request.method == "POST" and response.status_code < 400:
            services.written()
        return response

    return services


def services() -> Services:
    return current_app.extensions["ledger"]
