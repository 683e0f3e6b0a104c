"""Each store's ``LedgerView``: SQLite's beside the events in the embedded file,
PostgreSQL's in the events' schema. What differs is the dialect (``projections/sql.py``),
where the tracking table is, and how an index follows its table through a rebuild's swap."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL

from application.persistence.library_postgres import bounded_retries
from application.persistence.storage import SCHEMA_LOCK, again_if_created_meanwhile
from projections.read_model.tables import INDEXES
from projections.read_model.views import LedgerView
from projections.sql import for_postgres, for_sqlite


class SQLiteLedgerView(LedgerView, SQLiteTrackingRecorder):
    """The read tables inside the embedded SQLite file, beside the events."""

    money = "TEXT"  # exact decimal text: SQLite's NUMERIC affinity would round-trip via float
    timestamp = "TEXT"  # ISO-8601 with offset; sorts in time order for one fixed offset (UTC)

    @property
    def schema(self) -> str:
        return ""

    def construct_create_table_statements(self) -> list[str]:
        return super().construct_create_table_statements() + self.create_tables_statements()

    tracking_table = "tracking"

    def __init__(self, datastore: Any, suffix: str = "") -> None:
        self.suffix = suffix
        super().__init__(datastore)

    def create_table(self) -> None:
        """Create the tables; again if a worker that started with us made them first (its
        migration row is there: the second insert of it is refused)."""
        again_if_created_meanwhile(super().create_table)

    def swap_statements(self) -> list[str]:
        """SQLite cannot rename an index: build them on the renamed tables, inside the
        swap (writers wait for it; readers go on reading the old tables meanwhile)."""
        return [
            *super().swap_statements(),
            *(f"CREATE INDEX {name} ON bookings {columns}" for name, columns in INDEXES),
        ]

    def adapt_row(self, params: dict[str, Any]) -> dict[str, Any]:
        """Timestamps as ISO text and prices as exact decimal text."""
        return for_sqlite(params)


class PostgresLedgerView(LedgerView, PostgresTrackingRecorder):
    """The read tables in PostgreSQL, in the same schema as the events."""

    # Read by /ready and before each page a projector applies: no longer than a statement
    # of the ledger's own recorder when PostgreSQL is down.
    max_tracking_id = bounded_retries(PostgresTrackingRecorder.max_tracking_id)

    def __init__(self, datastore: Any, suffix: str = "", **kwargs: Any) -> None:
        self.suffix = suffix
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(map(SQL, self.create_tables_statements()))

    def begin_snapshot(self, cursor: Any) -> None:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def prepare_swap(self) -> None:
        """Index the rebuilt tables before the swap, so the swap itself is instant."""
        self._run(
            [f"CREATE INDEX IF NOT EXISTS {name}{self.suffix} ON {{bookings}} {columns}" for name, columns in INDEXES],
            {},
        )

    def swap_statements(self) -> list[str]:
        return [
            *super().swap_statements(),
            *(f"ALTER INDEX {self.schema}{name}{self.suffix} RENAME TO {name}" for name, _ in INDEXES),
        ]

    @property
    def schema(self) -> str:
        return f'"{self.datastore.schema}".'

    def create_table(self) -> None:
        """Create the tables; again if a process that started with us made them first.

        The library checks whether the tracking table exists before its DDL
        transaction, and records a migration row if it did not; a process that lost
        that race is refused the row. On the second try the check sees the table.
        """
        again_if_created_meanwhile(super().create_table)

    def _create_table(self, curs: Any) -> None:
        """Create the tables under the ledger's DDL lock (see ``application.persistence.storage``)."""
        curs.execute(SCHEMA_LOCK)
        super()._create_table(curs)

    @staticmethod
    def adapt_parameters(text: str) -> str:
        return for_postgres(text)

    @property
    def tracking_table(self) -> str:
        return f'{self.schema}"{self.tracking_table_name}"'
