"""Positions in an ordered stream, kept as named rows and moved by compare-and-set.

This is how every reader of a stream here applies each item exactly once: the read tables
(their place in the event store, in the library's tracking table, where its
``max_tracking_id`` reads it), the outbox (its place in the event store) and the email
sender (its place in the outbox), both in ``integration_positions``. A position moves in
the same transaction as what the items it passes did; the move names the position it
expects, so of two writers that read the same position only the first moves it, and the
second writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Positions:
    """The statements on a table of named positions (``:name``, ``:old``, ``:new`` parameters).
    Starting and moving return the row only if they happened."""

    table: str
    name: str
    position: str

    @property
    def select(self) -> str:
        return f"SELECT MAX({self.position}) AS position FROM {self.table} WHERE {self.name} = :name"

    @property
    def start(self) -> str:
        return (
            f"INSERT INTO {self.table} ({self.name}, {self.position}) VALUES (:name, :new) "
            f"ON CONFLICT DO NOTHING RETURNING {self.position}"
        )

    @property
    def move(self) -> str:
        return (
            f"UPDATE {self.table} SET {self.position} = :new WHERE {self.name} = :name "
            f"AND {self.position} = :old RETURNING {self.position}"
        )
