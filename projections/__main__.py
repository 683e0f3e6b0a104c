"""Keep the read tables up to date (the projection process).

    ticketledger projections        # or: python -m projections

It also expires holds as they fall due (projections.hold_expiry), and serves the
integrations: the outbox of integration events, webhook delivery and, if SMTP_HOST is
set, confirmation emails (projections.integrations.runner). Runs until SIGTERM or
SIGINT. It resumes from the tracked position, so it can be stopped and restarted at
any time, and it is safe beside web workers that also project: positions move by
compare-and-set, so each event is applied once.

With ``METRICS_BIND`` (host:port) set, it serves Prometheus its lag at ``/metrics`` there
(``projections/read_model/lag_metrics.py``): a stuck process is told from a busy one.

It polls the event store every ``PROJECTION_POLL_INTERVAL`` seconds (default 0.05) and
applies each new page of up to 1,000 events in one transaction. The library's
``ProjectionRunner`` (LISTEN/NOTIFY, one transaction per event) could not keep up with
group-committed bookings, and SQLite has no subscription at all (see docs/architecture.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

# An entry point (like scripts/), so it may build the BookingLedger it follows.
from application import BookingLedger
from projections import HoldExpiry, Projector, open_view
from projections.integrations.runner import Integrations
from projections.read_model.lag_metrics import lag_registry

log = logging.getLogger("projections")


def run(args: argparse.Namespace | None = None) -> None:
    """Project until stopped; there are no options, the settings are all in the environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with BookingLedger() as ledger:
        view = open_view(ledger)
        projector = Projector(ledger, view)
        expiring = HoldExpiry(ledger, view).start(stop)
        integrating = Integrations(ledger).start(stop)
        log.info("projecting %s from position %s, expiring holds", ledger.name, projector.position)
        metrics = serve_metrics(projector, os.environ.get("METRICS_BIND", ""))
        projector.follow(stop, float(os.environ.get("PROJECTION_POLL_INTERVAL", "0.05")))
        if metrics:
            metrics.shutdown()
        for thread in (expiring, *integrating):
            thread.join(timeout=10)  # let a tick in progress finish before the store closes
        log.info("stopped at position %s", projector.position)


def serve_metrics(projector: Projector, bind: str) -> WSGIServer | None:
    """Serve the lag on ``bind`` (host:port) in a thread of its own; the server, or None."""
    if not bind:
        return None
    host, port = bind.rsplit(":", 1)
    server, _ = start_http_server(int(port), host, registry=lag_registry(projector))
    log.info("serving /metrics on %s", bind)
    return server


if __name__ == "__main__":
    run()
