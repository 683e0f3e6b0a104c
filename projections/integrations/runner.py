"""The integration surface, assembled: the outbox, webhook delivery and emails.

``python -m projections`` runs all three in threads beside the read tables (and, on the
SQLite default, the web process does, as it projects there too: see web/services.py):

- the outbox follows the event store and writes the notices, always (the
  feed reads them, whether or not anything else is configured);
- webhook delivery looks for active endpoints every second and keeps a worker thread
  per endpoint: with none registered it costs one small query a second;
- emails run only if ``SMTP_HOST`` is set.

Settings come from the application's environment (its ``env``, then the OS
environment), as the ledger's own do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from eventsourcing.application import Application

from application.checkin.codes import TicketCodes
from projections.integrations.emails import EmailSender, EmailSettings
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from projections.integrations.webhook_delivery import DeliverySettings, WebhookDelivery
from projections.integrations.webhooks import WebhookEndpoints


class Integrations:
    """The integration tables of ``app``'s store, and the threads that serve them."""

    def __init__(self, app: Application) -> None:
        self.env = app.env
        secret = getattr(app, "secret", None)  # the ledger's: its tickets' codes are signed with it
        self.codes = TicketCodes(secret) if secret else None
        self.tables = IntegrationTables(app)
        self.outbox = Outbox(app, self.tables)
        self.endpoints = WebhookEndpoints(self.tables)

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the outbox, webhook delivery and (if configured) emails until ``stop``."""
        interval = float(self.env.get("PROJECTION_POLL_INTERVAL") or 0.05)
        delivery = WebhookDelivery(self.endpoints, DeliverySettings.from_env(self.env), news=self.outbox.appended)
        runs: dict[str, Callable[[], None]] = {
            "integration-outbox": lambda: self.outbox.follow(stop, interval),
            "webhook-delivery": lambda: delivery.run(stop),
        }
        email_settings = EmailSettings.from_env(self.env)
        if email_settings is not None:
            sender = EmailSender(self.tables, email_settings, news=self.outbox.appended, codes=self.codes)
            runs["emails"] = lambda: sender.run(stop)
        threads = [threading.Thread(target=run, name=name, daemon=True) for name, run in runs.items()]
        for thread in threads:
            thread.start()
        return threads
