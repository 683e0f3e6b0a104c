"""``python -m projections``: keep the read tables up to date until SIGTERM or SIGINT.

An entry point (like ``scripts/``), so it may build the ``BookingLedger`` it follows.
It resumes from the tracked position, so it can be stopped and restarted at any time,
and it is safe beside web workers that also project (each event is applied once).

- PostgreSQL: the library's ``ProjectionRunner``, woken by LISTEN/NOTIFY.
- SQLite: no subscription exists, so the ``Follower`` polls every
  ``PROJECTION_POLL_INTERVAL`` seconds (default 0.2).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from eventsourcing.projection import ProjectionRunner

from application import BookingLedger
from projections import Follower, LedgerProjection, open_view
from projections.views import PostgresLedgerView

log = logging.getLogger("projections")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ledger = BookingLedger()
    view = open_view(ledger)
    log.info("projecting %s from position %s", ledger.name, view.max_tracking_id(ledger.name) or 0)
    if isinstance(view, PostgresLedgerView):
        env = dict(ledger.env)
        ledger.close()
        run_subscribed(env, stop)
    else:
        Follower(ledger, view).follow(stop, float(os.environ.get("PROJECTION_POLL_INTERVAL", "0.2")))
    log.info("stopped")


def run_subscribed(env: dict[str, str], stop: threading.Event) -> None:
    with ProjectionRunner(
        application_class=BookingLedger,
        projection_class=LedgerProjection,
        view_class=PostgresLedgerView,
        env=env,
    ) as runner:
        threading.Thread(target=lambda: (stop.wait(), runner.stop()), daemon=True).start()
        runner.run_forever()


if __name__ == "__main__":
    main()
