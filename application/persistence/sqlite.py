"""The library's SQLite application recorder with a table of the waiting room log's own. Why,
and what guards it: the index, ``application/persistence/__init__.py``."""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


class RoomSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, with a table of the room log's own."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "waiting_room_events") -> None:
        super().__init__(datastore, events_table_name)
