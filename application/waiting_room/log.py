"""``WaitingRoomLog``: the application that records waiting rooms (``domain/waiting_room.py``).

An application of its own, with its own events table, beside the ledger in the same
database: the ledger's notification log stays the ledger's (its projection's position
and lag count only ledger events), and a room's few events never wait behind a hot
tier's table lock. On PostgreSQL the library names the table after the application
(``waitingrooms_events``); on SQLite, where it would not, ``RoomSQLiteRecorder`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.errors import WaitingRoomNotFoundError
from application.persistence.application import StoreApplication
from application.persistence.sqlite import RoomSQLiteRecorder
from domain.waiting_room import WaitingRoom

ATTEMPTS = 5  # another process changing the same room at the same moment is rare


@dataclass(frozen=True)
class RoomEvent:
    """One recorded fact of a room, for the audit trail."""

    version: int
    event: str
    at: datetime
    details: dict[str, Any]


class WaitingRoomLog(StoreApplication):
    # The stored name: the events table is named after it (``waitingrooms_events``).
    name = "WaitingRooms"
    sqlite_recorder = RoomSQLiteRecorder
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "var/ledger.sqlite3",
    }

    def open(self, room: WaitingRoom) -> None:
        self.save(room)

    def change(self, room_id: UUID, command: Callable[[WaitingRoom], None]) -> WaitingRoom:
        """Apply ``command`` to the room and save it, again if another process saved first."""
        for attempt in range(ATTEMPTS):
            room = self._get(room_id)
            command(room)
            try:
                self.save(room)
                return room
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def is_open(self, room_id: UUID) -> bool:
        return self._get(room_id).is_open

    def trail(self, room_id: UUID) -> list[RoomEvent]:
        """The room's events, oldest first."""
        self._get(room_id)
        events = cast(Iterable[WaitingRoom.Event], self.repository.event_store.get(room_id))
        return [RoomEvent(e.originator_version, type(e).__name__, e.timestamp, details(e)) for e in events]

    def _get(self, room_id: UUID) -> WaitingRoom:
        room = self.aggregate(room_id, WaitingRoom)
        if room is None:
            raise WaitingRoomNotFoundError(f"No waiting room {room_id}.")
        return room


def details(event: Any) -> dict[str, Any]:
    """An event's own fields (without the library's id, version, time and topic)."""
    library = ("originator_id", "originator_version", "timestamp", "originator_topic")
    return {k: v for k, v in vars(event).items() if k not in library}
