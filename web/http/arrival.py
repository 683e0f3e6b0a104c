"""When the app began each request, after its body arrived (``request_body.py`` reads it
first): the ledger's store deadline for it counts from then (``arrive`` in
``application/persistence/deadline.py``), so a booking refused because PostgreSQL stalls is
answered ``POSTGRES_WRITE_TIMEOUT_MS`` after the app began it, whatever it met before the
ledger (the rate limit's count, the waiting room's check, other ready requests of a busy
worker), not that long after it reached the ledger."""

from __future__ import annotations

import time

from flask import Flask, g

from application.persistence.deadline import arrive, depart


def install(app: Flask) -> None:
    @app.before_request
    def arrived() -> None:
        g.arrival = arrive(time.monotonic())

    @app.teardown_request
    def served(_error: BaseException | None) -> None:
        token = g.pop("arrival", None)
        if token is not None:
            depart(token)
