"""psycopg's waits for PostgreSQL on gevent's own loop, in the server's gevent workers.

Under gevent, psycopg waits for its socket through gevent's emulation of ``select.poll``
(``psycopg.waiting.wait_poll``), which builds a poll object, a watcher and a timeout for
every wait, and each batch of bookings waits on PostgreSQL several times. ``wait`` starts
one IO watcher on gevent's loop and lets the hub run other requests until the socket is
ready. The watcher has the loop's highest priority: in a turn of the loop, an answer of
PostgreSQL is taken up before the requests that became ready meanwhile, so a batch of
bookings (which waits on PostgreSQL four times, holding its tier's turn) goes on first.
What each saved, measured: docs/performance.md.

The worker installs it after gevent has patched the process (``web/server/gunicorn_worker.py``),
so that psycopg, imported then, also makes its connections the cooperative way.
"""

from __future__ import annotations

from typing import Any

import psycopg.waiting
from gevent import get_hub

# psycopg's own choice under gevent: used for waits with a time limit (cancelling a
# query, waiting for notifications), which the ledger's requests do not make.
with_time_limit = psycopg.waiting.wait


def wait(gen: Any, fileno: int, interval: float | None = None, timeout: float | None = None) -> Any:
    """psycopg's ``WaitFunc``: run ``gen`` to its end, waiting on gevent's loop for what
    it asks (reading, writing or either). psycopg's ``Wait`` and ``Ready`` flags are the
    loop's event flags; a wait for either is answered "both", as libpq's reading and
    flushing never block."""
    if timeout is not None:
        return with_time_limit(gen, fileno, interval=interval, timeout=timeout)
    hub = get_hub()
    try:
        wanted = next(gen)
        while True:
            watcher = hub.loop.io(fileno, wanted, priority=hub.loop.MAXPRI)
            try:
                hub.wait(watcher)
            finally:
                watcher.close()
            wanted = gen.send(wanted)
    except StopIteration as done:
        return done.value


def install() -> None:
    psycopg.waiting.wait = wait
