"""Each class of request gets a bounded share of every turn of a gevent worker's loop.

A gevent worker runs every connection that is ready in one turn of its event loop before
it looks for more input. A read answered from memory never waits, so it runs whole
within the turn; a booking waits on PostgreSQL several times (its tier's turn, the read,
the recording, giving the turn back), and after each wait it runs again only in a later
turn. With hundreds of readers ready in every turn, each step of a booking would wait
behind all of them, while the group commit's leader holds its tier's turn in PostgreSQL
and stalls the other workers too (what that cost, measured: docs/performance.md).

So requests of a class (reads; the waiting room's joins and looks) begin at most
``per_turn`` a turn; the others wait at the door, in arrival order, costing nothing
until their turn comes. A stream of such a class waits for its share again before each
event (``WAIT_TURN``): hundreds of streams woken at once by the same news would otherwise all
run in one turn. Commands are not shared out: they begin as soon as they arrive,
and each of their steps waits at most a short turn. But a command whose body is refused
(``web/http/request_body.py``) waits for the refusals' share before it is answered: slow
bodies opened together all reach their deadline in the same turn, and a thousand 408s
answered in one turn held a booking's next step behind them for seconds. When nothing else is going on the
loop turns over at once, so the shares cost a lone reader nothing.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gevent.hub import Waiter, get_hub

from web.http.server_contract import WAIT_REFUSAL_TURN, WAIT_TURN

COMMANDS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The settings (docs/configuration.md) and their defaults, per turn of a worker's loop.
SETTINGS = {
    "read": ("READS_PER_TURN", 3),
    "queue": ("QUEUE_REQUESTS_PER_TURN", 2),
    "stream": ("STREAMS_PER_TURN", 16),
    "refusal": ("REFUSALS_PER_TURN", 4),
}
# The tier list's live stream: opening one reads nothing (the process's one reader already
# has the list, web/http/tier_news.py), so it has a share of its own rather than waiting
# behind the reads, 3 a turn, which opened only ~50 streams a second (docs/performance.md).
TIER_STREAM = "/api/tickets/stream"


class LoopShare:
    """At most ``per_turn`` requests of one class begin per turn of the loop; the others
    wait for the next turns, first come first served."""

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._loop = get_hub().loop
        self._turn = -1
        self._begun = 0
        self._waiting: deque[Waiter] = deque()
        self._next = self._loop.timer(0.0)  # fires in the loop's next turn, and keeps it from sleeping

    def enter(self) -> None:
        """Return when this request may begin."""
        if not self._waiting and self._take():
            return
        waiter = Waiter()
        self._waiting.append(waiter)
        if not self._next.active:
            self._next.start(self._let_in)
        waiter.get()

    def _take(self) -> bool:
        turn = self._loop.iteration
        if turn != self._turn:
            self._turn, self._begun = turn, 0
        if self._begun >= self.per_turn:
            return False
        self._begun += 1
        return True

    def _let_in(self) -> None:
        """Once a turn while requests wait: this turn's share of them begins."""
        while self._waiting and self._take():
            self._waiting.popleft().switch(None)
        if self._waiting:
            self._next.start(self._let_in)


def request_class(environ: Mapping[str, Any]) -> str | None:
    """``queue`` for the waiting room's requests, ``stream`` for the tier list's live stream,
    ``read`` for every other read, None for commands."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/api/queue"):
        return "queue"
    if path == TIER_STREAM and environ.get("REQUEST_METHOD") == "GET":
        return "stream"
    return None if environ.get("REQUEST_METHOD") in COMMANDS else "read"


def shares_from(environ: Mapping[str, str]) -> dict[str, int]:
    """Each class's share per turn, from the settings (0: that class is not held)."""
    return {name: int(environ.get(setting, default)) for name, (setting, default) in SETTINGS.items()}


class SharedOut:
    """A WSGI app whose requests of each class begin at most their share a turn; ``app`` is
    the app itself. ``classify(environ)`` names a class of ``shares``, or None for requests
    that are never held."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        shares: Mapping[str, int],
        classify: Callable[[Mapping[str, Any]], str | None] = request_class,
    ) -> None:
        self.app = app
        self.classify = classify
        self.shares = {name: LoopShare(per_turn) for name, per_turn in shares.items() if per_turn > 0}
        self.refusals = self.shares.pop("refusal", None)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        share = self.shares.get(self.classify(environ) or "")
        if share is not None:
            share.enter()
            environ[WAIT_TURN] = share.enter
        if self.refusals is not None:
            environ[WAIT_REFUSAL_TURN] = self.refusals.enter
        return self.app(environ, start_response)


def shared_out(app: Callable[..., Iterable[bytes]]) -> SharedOut:
    """``app`` with the shares the environment sets."""
    return SharedOut(app, shares_from(os.environ))
