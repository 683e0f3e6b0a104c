"""What the app and the server that runs it (``web/server/``) agree on, defined once for both.

It imports nothing: the server's gevent worker loads it before gevent patches the process,
when the app's modules must not be loaded yet (``web/server/gunicorn_settings.py``).
"""

from __future__ import annotations

# Where a request that waited for its share of a turn of the worker's loop finds how to wait
# for it again (a WSGI environ key, as a header is): set by the worker
# (``web/server/loop_shares.py``), called by a stream before each event it reads after a pause
# (``web/http/stream.py``).
WAIT_TURN = "ticket_ledger.wait_turn"

# Where a request whose body was refused (too slow, too large) finds how to wait for the
# refusals' share of a turn before it is answered: set by the worker for every request
# (``web/server/loop_shares.py``), called by ``web/http/request_body.py``.
WAIT_REFUSAL_TURN = "ticket_ledger.wait_refusal_turn"

# Where a streamed response finds its client socket for writes that must not wait (a
# ``web/server/gunicorn_worker.py`` ``DirectWrites``): set by the server's gevent worker, used
# by the tier list's streams once their first part has gone (``web/http/tier_news.py``).
DIRECT_WRITES = "ticket_ledger.direct_writes"


def error_code(reason: str) -> str:
    """The code of an HTTP-level error, as the app and the server's worker both answer it: its
    reason phrase in capitals (``Not Found``: ``NOT_FOUND``)."""
    return reason.upper().replace(" ", "_").replace("'", "")
