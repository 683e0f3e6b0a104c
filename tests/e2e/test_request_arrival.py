"""A request's store deadline counts from when the app began it (``web/http/arrival.py``),
not from when it reached the ledger: what it met before (here a slow ``before_request``,
in production a rate limit's count or a busy worker) is inside the write timeout."""

from __future__ import annotations

import time

from application.persistence.deadline import arrived
from tests.e2e.conftest import make_app


def test_the_store_deadline_of_a_request_counts_from_when_the_app_began_it(store_env):
    app = make_app(store_env)
    seen: list[tuple[float, float]] = []
    app.before_request(lambda: time.sleep(0.2))  # after the app began it, before the view

    @app.get("/arrival-probe")
    def probe() -> str:
        seen.append((arrived(), time.monotonic()))
        return ""

    began = time.monotonic()
    assert app.test_client().get("/arrival-probe").status_code == 200
    arrival, in_view = seen[0]
    assert began <= arrival <= in_view - 0.2
    assert arrived() >= in_view  # outside a request: now
    app.extensions["services"].close()
