"""The read tables (``availability`` and ``bookings``) and the stores that hold them.

A view is the library's ``TrackingRecorder`` for its store, extended with the two read
tables: every row change commits in the same transaction as the tracking position of
the event that caused it, so each event is applied exactly once, even after a crash or
when two processes project side by side (the second insert of a position is refused).

The SQL is in ``projections/read_model/tables.py``, written once for both stores; the
dialects differ as ``projections/sql.py`` says, and each store's view is in
``projections/read_model/view_stores.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from application.persistence.tracking import TRACKED_NAME
from domain.bookings import BookingStatus, BookingSummary
from projections.read_model.tables import (
    CREATE_TABLES,
    DROP_TABLES,
    INDEXES,
    POSITIONS,
    SELECT_ALL_BOOKINGS,
    SELECT_ALL_SCANS,
    SELECT_ALL_TIERS,
    SELECT_BOOKING,
    SELECT_DEVICE_SCANS,
    SELECT_DOOR_COUNTS,
    SELECT_DUE_HOLDS,
    SELECT_NEXT_EXPIRY,
    SELECT_SHOW_TIERS,
    SELECT_SHOWS,
    SELECT_TIER,
    SELECT_TIER_BOOKINGS,
    SELECT_TIER_PLACES,
    SELECT_TIERS,
    SELECT_USER_BOOKINGS,
    SELECT_VALID_TICKETS,
    SELECT_WAITING_COUNTS,
    TABLES,
    PageChanges,
)
from projections.sql import when


@dataclass(frozen=True)
class TierAvailability:
    tier: str
    price: Decimal
    capacity: int
    sold: int
    held: int
    available: int
    on_sale: bool
    position: int


@dataclass(frozen=True)
class ShowRow:
    """A show on sale besides the default one: its id (code), name and sale window."""

    code: str
    name: str
    starts_at: datetime | None
    sale_opens: datetime | None
    sale_closes: datetime | None


@dataclass(frozen=True)
class PlaceRow:
    """A row of ``waiting_list``: a place on a tier's list and what became of it."""

    entry_id: str
    tier: str
    user_id: str
    quantity: int
    status: str
    joined_at: datetime | None
    updated_at: datetime | None
    booking_id: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ScanRow:
    """A row of ``checkins``: one scan at the door, the ticket's admission or a conflict."""

    ticket_id: str
    scan_id: str
    booking_id: str
    seat: int
    gate: str
    scanned_at: datetime
    admitted: bool
    device_id: str | None  # the door device that scanned; None: the shared scanner token


class LedgerView(TrackingRecorder):
    """Both read tables and their tracking position, in one SQL store.

    Subclasses pair this with the store's tracking recorder and say how its SQL
    differs (``schema``, ``money``, ``timestamp``, ``paramstyle``).
    """

    money = "NUMERIC(12, 2)"
    timestamp = "TIMESTAMPTZ"
    suffix = ""  # table-name suffix: "" for the live tables, SHADOW while rebuilding
    tracking_table: str  # the library's tracking table, as the store's tracking recorder names it

    @property
    def schema(self) -> str:
        """Table-name prefix (``"schema".`` or empty)."""
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        text = statement.format(
            availability=f"{self.schema}availability{self.suffix}",
            bookings=f"{self.schema}bookings{self.suffix}",
            checkins=f"{self.schema}checkins{self.suffix}",
            shows=f"{self.schema}shows{self.suffix}",
            show_tiers=f"{self.schema}show_tiers{self.suffix}",
            waiting_list=f"{self.schema}waiting_list{self.suffix}",
            schema=self.schema,
            money=self.money,
            timestamp=self.timestamp,
            tracking=self.tracking_table,
        )
        return self.adapt_parameters(text)

    @staticmethod
    def adapt_parameters(text: str) -> str:
        """Rewrite ``:name`` parameters to the store's style (SQLite takes them as is)."""
        return text

    def create_tables_statements(self) -> list[str]:
        indexes = (
            []
            if self.suffix
            else [f"CREATE INDEX IF NOT EXISTS {name} ON {{bookings}} {columns}" for name, columns in INDEXES]
        )
        return [self.sql(s) for s in (*CREATE_TABLES, *indexes)]

    # Writes: a batch of row changes and the new position, in one transaction.

    def apply(self, changes: PageChanges, after: int, tracking: Tracking) -> None:
        """Apply ``changes`` and move the position from ``after`` to ``tracking``'s.

        The move is a compare-and-set: if another projector has moved the position
        since ``after`` was read, nothing is written and ``IntegrityError`` is raised,
        so no event is ever applied twice, however projectors overlap.
        """
        with self.datastore.transaction(commit=True) as cursor:
            self._move_position(cursor, tracking.application_name, after, tracking.notification_id)
            for statement, rows in changes.statements():
                cursor.executemany(self.sql(statement), [self.adapt_row(row) for row in rows])

    def _move_position(self, cursor: Any, application_name: str, after: int, last: int) -> None:
        cursor.execute(
            self.sql(POSITIONS.move if after else POSITIONS.start),
            {"name": application_name, "old": after, "new": last},
        )
        if cursor.fetchone() is None:
            raise IntegrityError(f"{application_name} position is no longer {after}")

    def adapt_row(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def drop_tables(self, application_name: str) -> None:
        """Drop both tables and forget the position (what an interrupted rebuild left)."""
        self._run(DROP_TABLES, {"name": application_name})

    def swap_into_place(self, live_name: str, shadow_name: str) -> None:
        """Make these (rebuilt) tables and their position the live ones, atomically:
        readers see either the old tables or the new, never neither."""
        assert self.suffix, "only a rebuild's tables can replace the live ones"
        self._run(self.swap_statements(), {"live": live_name, "shadow": shadow_name})

    def swap_statements(self) -> list[str]:
        """Move the position, drop the live tables, rename these into their place."""
        return [
            f"DELETE FROM {{tracking}} WHERE {TRACKED_NAME} = :live",
            f"UPDATE {{tracking}} SET {TRACKED_NAME} = :live WHERE {TRACKED_NAME} = :shadow",
            *(f"DROP TABLE IF EXISTS {self.schema}{table}" for table in TABLES),
            *(f"ALTER TABLE {{{table}}} RENAME TO {table}" for table in TABLES),
        ]

    def prepare_swap(self) -> None:
        """Work to do before the swap, outside its transaction (none by default)."""

    def _run(self, statements: Sequence[str], params: dict[str, Any]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in statements:
                cursor.execute(self.sql(statement), params)

    # Reads.

    def list_tiers(self) -> list[TierAvailability]:
        """The default show's tiers: what ``GET /api/tickets`` lists."""
        return [self._tier(r) for r in self._select(SELECT_TIERS)]

    def list_all_tiers(self) -> list[TierAvailability]:
        return [self._tier(r) for r in self._select(SELECT_ALL_TIERS)]

    def tiers_of_show(self, code: str) -> list[TierAvailability]:
        return [self._tier(r) for r in self._select(SELECT_SHOW_TIERS, show=code)]

    def list_shows(self) -> list[ShowRow]:
        """The shows besides the default one."""
        return [
            ShowRow(row["code"], row["name"], when(row["starts_at"]), when(row["sale_opens"]), when(row["sale_closes"]))
            for row in self._select(SELECT_SHOWS)
        ]

    def get_tier(self, tier: str) -> TierAvailability | None:
        rows = self._select(SELECT_TIER, tier=tier)
        return self._tier(rows[0]) if rows else None

    def get_booking(self, booking_id: str) -> BookingSummary | None:
        rows = self._select(SELECT_BOOKING, booking_id=booking_id)
        return self._booking(rows[0]) if rows else None

    def bookings_of_user(self, user_id: str) -> list[BookingSummary]:
        return [self._booking(r) for r in self._select(SELECT_USER_BOOKINGS, user_id=user_id)]

    def bookings_of_users_at(self, user_ids: Sequence[str], application_name: str) -> tuple[int, list[BookingSummary]]:
        """The bookings of ``user_ids`` and the position of ``application_name`` they hold,
        read from one snapshot of the tables."""
        with self.datastore.transaction(commit=False) as cursor:
            self.begin_snapshot(cursor)
            cursor.execute(self.sql(POSITIONS.select), {"name": application_name})
            position = cursor.fetchone()["position"] or 0
            rows = []
            for user_id in user_ids:
                cursor.execute(self.sql(SELECT_USER_BOOKINGS), {"user_id": user_id})
                rows += [self._booking(row) for row in cursor.fetchall()]
        return position, rows

    def begin_snapshot(self, cursor: Any) -> None:
        """Make the transaction's reads see one snapshot (SQLite's reads always do)."""

    def bookings_of_tier(self, tier: str) -> list[BookingSummary]:
        return [self._booking(r) for r in self._select(SELECT_TIER_BOOKINGS, tier=tier)]

    def all_bookings(self) -> list[BookingSummary]:
        return [self._booking(r) for r in self._select(SELECT_ALL_BOOKINGS)]

    def all_scans(self) -> list[ScanRow]:
        return [self._scan(row) for row in self._select(SELECT_ALL_SCANS)]

    def device_scans(self) -> list[ScanRow]:
        """The scans door devices made, the newest first: who admitted which ticket."""
        return [self._scan(row) for row in self._select(SELECT_DEVICE_SCANS)]

    def door_counts(self) -> list[dict[str, Any]]:
        """Per tier: tickets sold, admitted at the door, and offline scans in conflict."""
        return [{**row, "sold": int(row["sold"])} for row in self._select(SELECT_DOOR_COUNTS)]

    def valid_tickets(self) -> list[tuple[UUID, str, int, set[int]]]:
        """Each confirmed booking: its id, tier, seats, and the seats admitted so far."""
        found: dict[str, tuple[UUID, str, int, set[int]]] = {}
        for row in self._select(SELECT_VALID_TICKETS):
            key = row["booking_id"]
            booking = found.setdefault(key, (UUID(key), row["tier"], row["quantity"], set()))
            if row["seat"] is not None:
                booking[3].add(row["seat"])
        return list(found.values())

    def places_of_tier(self, tier: str) -> list[PlaceRow]:
        """Every place that joined the tier's list, in the order they joined."""
        return [
            PlaceRow(**{**row, **{k: when(row[k]) for k in ("joined_at", "updated_at", "expires_at")}})
            for row in self._select(SELECT_TIER_PLACES, tier=tier)
        ]

    def waiting_counts(self) -> list[dict[str, Any]]:
        """Per tier with anyone on its list: people and tickets waiting, and offers open."""
        return [
            {k: v if k == "tier" else int(v) for k, v in row.items()} for row in self._select(SELECT_WAITING_COUNTS)
        ]

    def due_holds(self, now: datetime, limit: int = 100) -> list[UUID]:
        """The holds still held at ``now`` that should have expired, earliest first."""
        return [UUID(row["booking_id"]) for row in self._select(SELECT_DUE_HOLDS, now=now, limit=limit)]

    def next_expiry(self) -> datetime | None:
        """When the next hold is due, if any is held."""
        return when(self._select(SELECT_NEXT_EXPIRY)[0]["next"])

    def _select(self, statement: str, **params: Any) -> Sequence[Mapping[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(statement), self.adapt_row(params))
            return [dict(row) for row in cursor.fetchall()]

    @staticmethod
    def _tier(row: Mapping[str, Any]) -> TierAvailability:
        return TierAvailability(
            **{
                **row,
                "price": Decimal(str(row["price"])).quantize(Decimal("0.01")),
                "on_sale": bool(row["on_sale"]),
            }
        )

    @staticmethod
    def _scan(row: Mapping[str, Any]) -> ScanRow:
        return ScanRow(**{**row, "scanned_at": when(row["scanned_at"]), "admitted": bool(row["admitted"])})

    @staticmethod
    def _booking(row: Mapping[str, Any]) -> BookingSummary:
        return BookingSummary(
            **{
                **row,
                "booking_id": UUID(row["booking_id"]),
                "status": BookingStatus(row["status"]),
                "created_at": when(row["created_at"]),
                "updated_at": when(row["updated_at"]),
                "expires_at": when(row["expires_at"]),
            }
        )
