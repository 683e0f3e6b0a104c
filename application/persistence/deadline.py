"""A time limit on the store's work for one request, so that a stalled PostgreSQL (a commit
waiting for a standby that is gone, a link that stopped carrying bytes, a lock nobody
releases) costs a prompt 503, never a hang.

Within ``store_deadline(until)`` every statement this thread (or greenlet) sends on a
connection of the ledger's pool waits for its answer only until ``until``
(``BoundedConnection``: psycopg's own wait, given a timeout), and for a connection of the
pool no longer than that either (``BoundedPool``: while no node leads, the pool has none to
give and cannot make one, and its own wait, ``POSTGRES_CONNECT_TIMEOUT`` for each of a
statement's two tries, would keep the request past its bound). Past it, the connection is
closed from this side and the caller learns what that means:

- ``OutcomeUnknownError`` once something that could commit was sent in the block
  (``may_commit``): the recording may be stored, or be stored later; the idempotency key
  settles it on a retry.
- ``StoreTimeoutError`` otherwise: nothing of the block was recorded.

The server is not asked to cancel anything. A ``COMMIT`` waiting for a synchronous standby
that is cancelled (``statement_timeout``, ``pg_cancel_backend``) returns success with a
warning, committed on this node only and visible to the next reader, who could then
acknowledge what a failover loses. Closed from the client's side, the backend keeps
waiting: the commit becomes visible only once a standby has it, or is lost with the node
before anyone saw it. A statement that wrote nothing may be cancelled by the server: the
tier's turn has a ``lock_timeout`` (``application/booking/turns.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.postgres import ConnectionPool
from psycopg.abc import PQGen
from psycopg.rows import DictRow
from psycopg_pool import PoolTimeout

from application.errors import OutcomeUnknownError, StoreTimeoutError


@dataclass(eq=False)
class Deadline:
    """When the block's store work must be answered by (``time.monotonic``), and whether it has
    sent anything that could commit."""

    until: float
    may_have_committed: bool = False

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def expired(self) -> OutcomeUnknownError | StoreTimeoutError:
        """The error for a block whose time ran out."""
        if self.may_have_committed:
            return OutcomeUnknownError(
                "The store did not confirm this recording in time; it may be stored. "
                "Retry with the same Idempotency-Key."
            )
        return StoreTimeoutError()


_DEADLINE: ContextVar[Deadline | None] = ContextVar("store_deadline", default=None)
_ARRIVED: ContextVar[float | None] = ContextVar("request_arrived", default=None)


def arrive(at: float) -> Token[float | None]:
    """Say that the request being served arrived at ``at`` (``time.monotonic``): its store
    deadline counts from then, so what it waited for before reaching the store (a rate
    limit's count, a worker's queue of ready requests) is within the bound, not added to it.
    Undone by ``depart`` with the token."""
    return _ARRIVED.set(at)


def depart(token: Token[float | None]) -> None:
    _ARRIVED.reset(token)


def arrived() -> float:
    """When the request being served arrived (``arrive``); outside a request, now."""
    at = _ARRIVED.get()
    return time.monotonic() if at is None else at


@contextmanager
def store_deadline(until: float) -> Iterator[Deadline]:
    """Bound the store's work in the block by ``until`` (``time.monotonic``); within another
    block, by the outer one's deadline, which also learns what the inner block sent."""
    outer = _DEADLINE.get()
    if outer is not None:
        yield outer
        return
    deadline = Deadline(until)
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def may_commit() -> None:
    """Say that what is sent next may commit: from now on the block's timeout is an unknown
    outcome. Called by the recorders before a recording is sent."""
    deadline = _DEADLINE.get()
    if deadline is not None:
        deadline.may_have_committed = True


def pause_before_retry(seconds: float, error: Exception) -> None:
    """Sleep ``seconds`` before a statement is tried again, unless the block's deadline comes
    first: then its timeout at once, from ``error`` (a retry past it would only meet it)."""
    deadline = _DEADLINE.get()
    if deadline is not None and deadline.remaining() <= seconds:
        raise deadline.expired() from error
    time.sleep(seconds)


def remaining_ms() -> int | None:
    """Milliseconds left of the block's deadline (at least 1), or None outside one."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(1, round(deadline.remaining() * 1000))


class BoundedConnection(psycopg.Connection[DictRow]):
    """A connection of the ledger's pool (psycopg_pool's ``connection_class``) whose waits for
    the server end at the block's deadline (``store_deadline``); outside a block, psycopg's."""

    def wait(self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = _DEADLINE.get()
        if deadline is None:
            return super().wait(gen, interval, timeout)
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.expired()  # nothing of this statement was sent
        try:
            return super().wait(gen, interval, remaining if timeout is None else min(timeout, remaining))
        except psycopg.OperationalError:
            if deadline.remaining() > 0:
                raise
            self.close()  # half-way through the protocol: never to be used again
            raise deadline.expired() from None


class BoundedPool(ConnectionPool[psycopg.Connection[DictRow]]):
    """The library's pool, whose wait for a connection ends at the block's deadline
    (``store_deadline``); outside a block, at the pool's own ``timeout``."""

    def getconn(self, timeout: float | None = None) -> psycopg.Connection[DictRow]:
        deadline = _DEADLINE.get()
        if deadline is None:
            return super().getconn(timeout)
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.expired()
        try:
            return super().getconn(min(self.timeout if timeout is None else timeout, remaining))
        except PoolTimeout:
            if deadline.remaining() > 0:
                raise
            raise deadline.expired() from None
