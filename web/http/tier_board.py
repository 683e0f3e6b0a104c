"""The tier list as every reader gets it: one copy per process, rendered once per change.

``GET /api/tickets`` is the same answer for everyone, and in an on-sale thousands of
browsers ask for it every second or two: a query and a rendering for each would be
spent on the same answer. So one request per ``max_age`` reads the rows (the others
meanwhile get the copy in hand, ``application/recent.py``), and the JSON, its ETag and
the rows are made again only when a row changed. The tier list's stream and
the waiting room's sold-out answer read the same copy.

The copy lags the read tables by at most ``max_age`` (the read tables lag the ledger by
the projection's tens of milliseconds on PostgreSQL). A process that projects its own
writes (SQLite) drops its copy after each command, so its next read shows the write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.http import parse_etags

from application.recent import Recent
from projections.read_model.views import TierAvailability

# At most ten reads a second per process: what the copy adds to a change's way to 50,000 followers
# through the edge (with the publisher's tenth of a second) kept news p95 under a second there.
MAX_AGE_SECONDS = 0.1
# Browsers ask again each time (a 304 while unchanged); a shared cache in front may answer for a second.
CACHE_CONTROL = "public, max-age=0, s-maxage=1"


@dataclass(frozen=True)
class Board:
    rows: tuple[TierAvailability, ...]
    body: bytes  # the JSON answer of GET /api/tickets
    etag: str  # a strong validator of ``body``, quoted as the ETag header has it

    def unchanged_for(self, if_none_match: str | None) -> bool:
        """Whether a request's ``If-None-Match`` names this answer (then: 304)."""
        return bool(if_none_match) and parse_etags(if_none_match).contains_weak(self.etag[1:-1])

    def line(self) -> str:
        """The body as one line of text (a stream event's ``data:``)."""
        return self.body.decode()


class TierBoard:
    """``read`` (the read tables' tier rows) at most every ``max_age`` seconds, ``render``
    (rows to the JSON-ready list) once per change."""

    def __init__(
        self,
        read: Callable[[], Sequence[TierAvailability]],
        render: Callable[[Sequence[TierAvailability]], Any],
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._render = render
        self._board: Board | None = None
        self._rows = Recent(lambda: tuple(read()), max_age, clock)

    def get(self) -> Board:
        rows = self._rows.get()
        board = self._board
        if board is None or board.rows != rows:
            body = json.dumps(self._render(rows), separators=(",", ":")).encode()
            board = self._board = Board(rows, body, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')
        return board

    def forget(self) -> None:
        """Read the rows again at the next ``get`` (this process has just written)."""
        self._rows.forget()
