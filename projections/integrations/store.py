"""The integration tables, in the domain events' database (SQLite file or PostgreSQL schema).

``integration_events`` is an append-only outbox: one row per notice, its body the exact
JSON the feed and webhooks send, written by ``projections.integrations.outbox`` with the
mapping's state and its position in one transaction. Its rows never change, so every
consumer (feed, webhook endpoints, emails) reads the same notices in the same order and
tracks its own position in it, and a replay sends byte-identical bodies.

Beside it: the mapping's state (``integration_tiers``, ``integration_holds``), the
positions of the outbox and the email sender (``integration_positions``), webhook
endpoints and their delivery log, and the email send records. The SQL is written once
with ``:name`` parameters; only the schema prefix, column types and parameter style
differ between the stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory

from application.persistence.storage import SCHEMA_LOCK, again_if_created_meanwhile
from projections.integrations.mapping import MappingState, TierFigures
from projections.integrations.notices import Notice
from projections.positions import Positions
from projections.sql import for_postgres, for_sqlite

TABLES = (
    """CREATE TABLE IF NOT EXISTS {p}integration_events (
        position BIGINT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {p}integration_tiers (
        tier_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        capacity BIGINT NOT NULL,
        sold BIGINT NOT NULL,
        held BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {p}integration_holds (
        booking_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {p}integration_positions (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {p}webhook_endpoints (
        endpoint_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        event_types TEXT NOT NULL,
        description TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        position BIGINT NOT NULL,
        created_at {timestamp} NOT NULL,
        leased_by TEXT,
        lease_until {timestamp}
    )""",
    """CREATE TABLE IF NOT EXISTS {p}webhook_deliveries (
        delivery_id {serial},
        endpoint_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at {timestamp} NOT NULL,
        delivered INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        latency_ms DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_endpoint ON {p}webhook_deliveries (endpoint_id, delivery_id)",
    """CREATE TABLE IF NOT EXISTS {p}email_sends (
        message_id TEXT PRIMARY KEY,
        booking_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        position BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        state TEXT NOT NULL,
        claimed_by TEXT NOT NULL,
        claimed_at {timestamp} NOT NULL,
        done_at {timestamp},
        detail TEXT
    )""",
)
OUTBOX = "outbox"  # the position of the outbox itself, among integration_positions

SELECT_NOTICES = (
    "SELECT position, event_id, type, body FROM {p}integration_events WHERE position > :after "
    "ORDER BY position LIMIT :limit"
)
SELECT_NOTICES_OF_TYPES = (
    "SELECT position, event_id, type, body FROM {p}integration_events WHERE position > :after AND type IN ({types}) "
    "ORDER BY position LIMIT :limit"
)
SELECT_HEAD = "SELECT MAX(position) AS head FROM {p}integration_events"
INSERT_NOTICE = (
    "INSERT INTO {p}integration_events (position, event_id, type, body) VALUES (:position, :id, :type, :body)"
)
POSITIONS = Positions("{p}integration_positions", "name", "position")
SELECT_TIER = "SELECT code, capacity, sold, held FROM {p}integration_tiers WHERE tier_id = :tier_id"
UPSERT_TIER = (
    "INSERT INTO {p}integration_tiers (tier_id, code, capacity, sold, held) "
    "VALUES (:tier_id, :code, :capacity, :sold, :held) ON CONFLICT (tier_id) DO UPDATE SET "
    "capacity = excluded.capacity, sold = excluded.sold, held = excluded.held"
)
SELECT_HOLD = "SELECT user_id FROM {p}integration_holds WHERE booking_id = :booking_id"
INSERT_HOLD = (
    "INSERT INTO {p}integration_holds (booking_id, user_id) VALUES (:booking_id, :user_id) "
    "ON CONFLICT (booking_id) DO NOTHING"
)
DELETE_HOLD = "DELETE FROM {p}integration_holds WHERE booking_id = :booking_id"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredNotice:
    """An outbox row: the notice's position, id, type and JSON body (what is sent)."""

    position: int
    id: str
    type: str
    body: str


class Statements:
    """A transaction's cursor that takes this module's SQL with named parameters."""

    def __init__(self, tables: IntegrationTables, cursor: Any) -> None:
        self.tables = tables
        self.cursor = cursor

    def execute(self, statement: str, **params: Any) -> None:
        self.cursor.execute(self.tables.sql(statement), self.tables.adapt(params))

    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        self.execute(statement, **params)
        return [dict(row) for row in self.cursor.fetchall()]

    def executemany(self, statement: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.cursor.executemany(self.tables.sql(statement), [self.tables.adapt(row) for row in rows])

    def move_position(self, name: str, old: int, new: int) -> bool:
        """Compare-and-set a position; False (nothing moved) if it is no longer ``old``."""
        return bool(self.rows(POSITIONS.move, name=name, old=old, new=new))


class IntegrationTables:
    """The integration tables of one application's store, sharing its connection pool."""

    def __init__(self, app: Application) -> None:
        factory = app.factory
        if not isinstance(factory, (SQLiteFactory, PostgresFactory)):
            raise TypeError(f"No integration tables for {type(factory).__name__}: use SQLite or PostgreSQL.")
        self.datastore = factory.datastore
        self.postgres = isinstance(factory, PostgresFactory)
        if factory.env_create_table():
            self.create_tables()

    def sql(self, statement: str, **extra: str) -> str:
        if self.postgres:
            text = statement.format(
                p=f'"{self.datastore.schema}".', timestamp="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY", **extra
            )
            return for_postgres(text)
        return statement.format(p="", timestamp="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT", **extra)

    def adapt(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return params if self.postgres else for_sqlite(params)

    def create_tables(self) -> None:
        """Create the tables if missing; on PostgreSQL under the ledger's DDL lock."""

        def create() -> None:
            with self.transaction() as tx:
                if self.postgres:
                    tx.cursor.execute(SCHEMA_LOCK)
                for statement in TABLES:
                    tx.execute(statement)
                tx.execute(POSITIONS.start, name=OUTBOX, new=0)

        again_if_created_meanwhile(create)

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Statements]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield Statements(self, cursor)

    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as tx:
            return tx.rows(statement, **params)

    # The outbox, as its consumers read it.

    def notices_after(self, after: int, limit: int, types: Sequence[str] | None = None) -> list[StoredNotice]:
        """Up to ``limit`` notices after position ``after``, in order (only ``types``, if given)."""
        if types is None:
            rows = self.rows(SELECT_NOTICES, after=after, limit=limit)
        else:
            names = {f"type{n}": t for n, t in enumerate(types)}
            statement = SELECT_NOTICES_OF_TYPES.replace("{types}", ", ".join(f":{name}" for name in names))
            rows = self.rows(statement, after=after, limit=limit, **names)
        return [StoredNotice(row["position"], row["event_id"], row["type"], row["body"]) for row in rows]

    def head(self) -> int:
        """The last notice's position (0 when there is none yet)."""
        return self.rows(SELECT_HEAD)[0]["head"] or 0

    def position(self, name: str) -> int | None:
        return self.rows(POSITIONS.select, name=name)[0]["position"]

    def start_position(self, name: str, position: int) -> int:
        """Create the position ``name`` at ``position`` unless it exists; return it."""
        with self.transaction() as tx:
            tx.execute(POSITIONS.start, name=name, new=position)
        return self.position(name) or 0

    # The outbox, as its writer changes it.

    def load_state(self, tx: Statements, tier_ids: set[str], hold_ids: set[str]) -> MappingState:
        state = MappingState()
        for tier_id in tier_ids:
            for row in tx.rows(SELECT_TIER, tier_id=tier_id):
                state.tiers[tier_id] = TierFigures(row["code"], row["capacity"], row["sold"], row["held"])
        for booking_id in hold_ids:
            for row in tx.rows(SELECT_HOLD, booking_id=booking_id):
                state.hold_users[booking_id] = row["user_id"]
        return state

    def append(self, tx: Statements, notices: Sequence[Notice], state: MappingState) -> None:
        """Write a page's notices and the state they leave (after its position moved)."""
        tx.executemany(
            INSERT_NOTICE, [{"position": n.position, "id": n.id, "type": n.type, "body": n.body()} for n in notices]
        )
        tx.executemany(
            UPSERT_TIER,
            [
                {"tier_id": tier_id, "code": f.code, "capacity": f.capacity, "sold": f.sold, "held": f.held}
                for tier_id, f in state.tiers.items()
            ],
        )
        tx.executemany(DELETE_HOLD, [{"booking_id": b} for b in state.closed_holds])
        tx.executemany(
            INSERT_HOLD,
            [{"booking_id": b, "user_id": u} for b, u in state.hold_users.items() if b not in state.closed_holds],
        )

    def move_outbox(self, tx: Statements, old: int, new: int) -> None:
        if not tx.move_position(OUTBOX, old, new):
            raise IntegrityError(f"the outbox position is no longer {old}")
