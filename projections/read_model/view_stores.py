"""Each store's ``LedgerView``: SQLite's beside the events in the embedded file,
PostgreSQL's in the events' schema. What differs is the dialect (``projections/sql.py``)
and how an index follows its table through a rebuild's swap; each is the store's tracking
recorder as ``application/persistence/tracking.py`` adapts the library's."""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL

from application.persistence.tracking import PostgresTracking, SQLiteTracking
from projections.read_model.tables import ADDED_COLUMNS, INDEXES
from projections.read_model.views import LedgerView
from projections.sql import for_postgres, for_sqlite


class SQLiteLedgerView(LedgerView, SQLiteTracking):
    """The read tables inside the embedded SQLite file, beside the events."""

    money = "TEXT"  # exact decimal text: SQLite's NUMERIC affinity would round-trip via float
    timestamp = "TEXT"  # ISO-8601 with offset; sorts in time order for one fixed offset (UTC)

    @property
    def schema(self) -> str:
        return ""

    def construct_create_table_statements(self) -> list[str]:
        return super().construct_create_table_statements() + self.create_tables_statements()

    def _create_table(self, c: Any) -> None:
        """The tables, then the columns an older file's tables lack (SQLite has no
        ``ADD COLUMN IF NOT EXISTS``: its table's columns are read first)."""
        super()._create_table(c)
        for table, column, kind in ADDED_COLUMNS:
            name = f"{table}{self.suffix}"
            c.execute(f"PRAGMA table_info({name})")
            if column not in {row["name"] for row in c.fetchall()}:
                c.execute(f"ALTER TABLE {name} ADD COLUMN {column} {kind}")

    def __init__(self, datastore: Any, suffix: str = "") -> None:
        self.suffix = suffix
        super().__init__(datastore)

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


class PostgresLedgerView(LedgerView, PostgresTracking):
    """The read tables in PostgreSQL, in the same schema as the events."""

    def __init__(self, datastore: Any, suffix: str = "", **kwargs: Any) -> None:
        self.suffix = suffix
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(map(SQL, self.create_tables_statements()))
        self.sql_create_statements.extend(SQL(statement) for statement in self.added_columns_statements())

    def added_columns_statements(self) -> list[str]:
        """The columns an older schema's tables lack, added only where missing: a table that
        has them is not locked (``ALTER TABLE`` would lock it even to add nothing)."""
        return [
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM information_schema.columns WHERE "
            f"table_schema = '{self.datastore.schema}' AND table_name = '{table}{self.suffix}' "
            f"AND column_name = '{column}') THEN ALTER TABLE {self.schema}{table}{self.suffix} "
            f"ADD COLUMN {column} {kind}; END IF; END $$"
            for table, column, kind in ADDED_COLUMNS
        ]

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

    @staticmethod
    def adapt_parameters(text: str) -> str:
        return for_postgres(text)
