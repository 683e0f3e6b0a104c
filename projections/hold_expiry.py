"""Holds expire by a process with a timer, never by a request.

``HoldExpiry`` finds the holds that are due in the bookings table (built from the event
stream) and has the ledger expire each one. Expiring is a version-checked command on
the booking and its tier, so it is safe to run anywhere and more than once: a hold that
its user confirmed or released first, even a moment before, is left alone, and a hold
that another expirer ended is not ended twice. It runs inside ``python -m projections``
and, on the single-process SQLite default, in a thread of the web process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError

from application import BookingLedger, LedgerBusyError
from application.errors import OutcomeUnknownError, StoreTimeoutError
from domain.errors import HoldNotActiveError
from projections.read_model.views import LedgerView

log = logging.getLogger(__name__)

AT_ONCE = 32  # holds expired at once, each by a thread of its own, sharing the ledger's batches


class HoldExpiry:
    """Expires due holds now, and knows how long to sleep until the next is due."""

    def __init__(
        self,
        ledger: BookingLedger,
        view: LedgerView,
        batch_size: int = 100,
        expired: Callable[[], object] | None = None,
    ) -> None:
        """``expired`` is called after holds were expired: where nothing else keeps the
        read tables up to date (the web process on SQLite), it should."""
        self.ledger = ledger
        self.view = view
        self.batch_size = batch_size
        self.expired = expired

    def expire_due(self) -> int:
        """Expire up to ``batch_size`` holds due by the ledger's clock (as far as the
        read tables know), all at once: the ledger's batches expire them together (a hold
        at a time, each waited for a batch of its own); return how many this call ended."""
        due = self.view.due_holds(self.ledger.clock(), self.batch_size)
        if not due:
            return 0
        with ThreadPoolExecutor(min(len(due), AT_ONCE), thread_name_prefix="expiring") as pool:
            ended = sum(pool.map(self._expire, due))  # a store error is raised here: the tick again
        if ended and self.expired:
            self.expired()
        return ended

    def _expire(self, booking_id: UUID) -> bool:
        try:
            self.ledger.expire_hold(booking_id)
        except HoldNotActiveError:
            return False  # it ended first (confirmed, released, or expired by another process)
        except LedgerBusyError:
            return False  # the tier is hot: on the next tick
        except (OperationalError, InterfaceError, StoreTimeoutError, OutcomeUnknownError):
            raise  # the store is away or stalled: the whole tick is tried again
        except Exception:  # this hold's problem must not stall every hold due after it
            log.exception("could not expire hold %s; going on with the others", booking_id)
            return False
        return True

    def seconds_to_next(self) -> float | None:
        """How long until the next held booking is due (None: nothing is held)."""
        due = self.view.next_expiry()
        return None if due is None else max(0.0, (due - self.ledger.clock()).total_seconds())

    def run(self, stop: threading.Event, longest_sleep: float = 1.0) -> None:
        """Expire holds as they fall due until ``stop`` is set. It sleeps until the
        next hold is due, but at most ``longest_sleep`` seconds, so that holds placed
        meanwhile, and holds the read tables had not seen yet, are not missed."""
        while not stop.is_set():
            try:
                ended = self.expire_due()
                if ended:
                    log.info("expired %d hold(s)", ended)
                wait = 0.0 if ended == self.batch_size else self.seconds_to_next()
            except Exception:  # e.g. the store restarts: log it and try again next tick
                log.exception("hold expiry failed; retrying")
                wait = None
            # At least 50 ms: holds the read tables still show as held after they ended
            # are due at once until the projection catches up.
            stop.wait(longest_sleep if wait is None else min(max(wait, 0.05), longest_sleep))

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="hold-expiry", daemon=True)
        thread.start()
        return thread
