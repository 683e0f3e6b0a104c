"""The SQL dialects of the two stores, as the read model and the integrations write to them.

Statements are written once with ``:name`` parameters; PostgreSQL takes them as
``%(name)s`` (``for_postgres``), SQLite as they are. SQLite keeps timestamps as ISO text
in UTC with microseconds (so they sort as text) and prices as exact decimal text
(``for_sqlite``); what comes back as text is read as a timestamp again by ``when``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

NAMED = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def for_postgres(statement: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (a ``::type`` cast is left alone)."""
    return NAMED.sub(r"%(\1)s", statement)


def for_sqlite(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as SQLite keeps them: timestamps as ISO text in UTC, decimals as text."""
    return {name: sqlite_value(value) for name, value in params.items()}


def sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return str(value) if isinstance(value, Decimal) else value


def when(value: datetime | str | None) -> datetime | None:
    """A timestamp column's value (SQLite keeps ISO text)."""
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)
