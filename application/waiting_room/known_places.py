"""What a process knows of the waiting room's queue without asking its store.

While a sale is on, most requests to the room are buyers looking at their place, and in
Redis each look was a script's round trip (and a wait, in a gevent worker, behind
everything else the worker had to do). But a place, once final, never changes: only the
gate moves, the same for everyone. So a process reads the gate at most every
``GATE_SECONDS`` and carries it forward at its rate, and keeps the final places of the
places it has seen: a look at a place still waiting, or already admitted, needs no
round trip. Only the look that finds a place's turn come asks the store, which records
the admission (its time is when the pass starts) once for every process.

A copy of the gate is at most ``GATE_SECONDS`` behind the store's (a rate just changed,
buyers just joined): a buyer may hear of their turn that much later, never sooner, as
the store still decides each admission.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from application.waiting_room.store import Gate, Place, QueueStore, advance

GATE_SECONDS = 0.2
GateCopy = tuple[str, float, Gate]  # (room, read at, gate)
PLACES_LIMIT = 100_000  # places remembered per process (about 30 MB), the least recently seen forgotten first


class KnownPlaces:
    def __init__(
        self,
        store: QueueStore,
        seconds: float = GATE_SECONDS,
        limit: int = PLACES_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.seconds = seconds
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._places: OrderedDict[str, Place] = OrderedDict()
        self._gate: GateCopy | None = None

    def look(self, room_id: str, place_id: str, opens_at: float) -> Place | None:
        """The place with the gate now, if it is known and its state needs no
        decision of the store (still waiting, or admitted already); else None: ask the store."""
        with self._lock:
            known = self._places.get(place_id)
            if known is not None:
                self._places.move_to_end(place_id)
        if known is None:
            return None
        gate = self.gate(room_id, opens_at)
        if gate is None or (known.admitted_at is None and known.number <= gate.admitted):
            return None
        return replace(known, gate=gate)

    def remember(self, place: Place, opens_at: float) -> None:
        """Keep a place the store gave, once it is final (a pre-queue place is drawn at the opening)."""
        if place.pre_queue and place.gate.now < opens_at:
            return
        with self._lock:
            self._places[place.place_id] = place
            self._places.move_to_end(place.place_id)
            while len(self._places) > self.limit:
                self._places.popitem(last=False)

    def gate(self, room_id: str, opens_at: float) -> Gate | None:
        """The room's gate, read at most every ``seconds`` and carried forward to now at its rate."""
        now, copy = self.clock(), self._gate
        mine = copy if copy is not None and copy[0] == room_id else None
        if mine is None or now - mine[1] >= self.seconds:
            mine = self._read(room_id, now, mine)
            if mine is None:
                return None
        _, read_at, gate = mine
        later = gate.now + (now - read_at)
        return replace(
            gate, now=later, frontier=advance(gate.frontier, gate.rate, max(gate.now, opens_at), later, gate.joined)
        )

    def _read(self, room_id: str, now: float, old: GateCopy | None) -> GateCopy | None:
        """The gate read again by one caller at a time: the others go on with the ``old`` copy
        they have (only a caller with none waits for the read)."""
        if old is not None and not self._reading.acquire(blocking=False):
            return old
        if old is None:
            self._reading.acquire()
        try:
            gate = self.store.gate(room_id)
            if gate is None:
                return None
            self._gate = (room_id, now, gate)
            return self._gate
        finally:
            self._reading.release()
