"""What a waiting room does once a period, with no process of its own to do it: the
first request of a new period that wins the store's claim on it adjusts an automatic
rate and, every ``COUNT_EVERY_SECONDS``, records the counts in the room's log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from application.errors import WaitingRoomOffError
from application.waiting_room import admission_rate
from application.waiting_room.log import WaitingRoomLog
from application.waiting_room.store import Gate, QueueStore, RoomTerms
from domain.errors import LedgerError

log = logging.getLogger(__name__)

COUNT_EVERY_SECONDS = 10


class RoomTicks:
    def __init__(
        self,
        store: QueueStore,
        room_log: Callable[[], WaitingRoomLog],
        clock: Callable[[], float],
        target_p95_ms: float,
    ) -> None:
        self.store = store
        self.room_log = room_log
        self.clock = clock
        self.target_p95_ms = target_p95_ms
        self._last_period = -1

    def tick(self, terms: RoomTerms) -> None:
        """Once per period across all processes: adjust an automatic rate, and every
        ``COUNT_EVERY_SECONDS`` record the counts. A failure here never fails the buyer's request."""
        period = int(self.clock() // admission_rate.PERIOD_SECONDS)
        if period == self._last_period:
            return
        self._last_period = period
        if not self.store.claim_tick(terms.room_id, period):
            return
        try:
            gate = self.store.gate(terms.room_id)
            if gate is None:
                raise WaitingRoomOffError("The waiting room has just been turned off.")
            if gate.auto_rate and gate.now >= terms.opens_at:
                self._adjust_rate(terms, gate, self.store.latencies(terms.room_id, period - 1))
            if period % (COUNT_EVERY_SECONDS // admission_rate.PERIOD_SECONDS) == 0:
                self.room_log().change(
                    uuid.UUID(terms.room_id), lambda r: r.count_admissions(gate.joined, gate.admitted, gate.passes)
                )
        except (LedgerError, IntegrityError, OperationalError, InterfaceError) as error:
            log.warning("waiting room tick skipped: %s", error)

    def _adjust_rate(self, terms: RoomTerms, gate: Gate, latencies: dict[int, int]) -> None:
        measured = admission_rate.Measured(
            rate=gate.rate,
            start_rate=terms.start_rate,
            max_rate=terms.max_rate,
            latencies=latencies,
            admitted=round(gate.rate * admission_rate.PERIOD_SECONDS),
            waiting=gate.joined > gate.admitted,
        )
        rate, reason = admission_rate.next_rate(measured, self.target_p95_ms)
        if rate != gate.rate:
            self.room_log().change(
                uuid.UUID(terms.room_id), lambda r: r.change_rate(rate, True, f"automatic: {reason}")
            )
            self.store.set_rate(terms.room_id, rate, True)
