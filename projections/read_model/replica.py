"""The read tables on a standby that may lag: where the tier list is read while the primary
does not answer.

From the loss of the primary's host until a standby is promoted (docs/production.md) no
read table on the primary can be read. A web process given ``READ_REPLICA`` (``host:port``: HAProxy's read port in the
production topology) reads the tier list from the standby's copy of the same tables then:
behind the primary by the standby's replay lag (milliseconds with synchronous replication,
in which a commit is acknowledged once the standby has it) plus the copy's own 0.2 s. Only
the tier list reads there; a user's own bookings and every command need the primary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from application.persistence.tracking import tracking_table_name
from projections.read_model.projection import LedgerProjection
from projections.read_model.view_stores import PostgresLedgerView
from projections.read_model.views import LedgerView

log = logging.getLogger(__name__)
T = TypeVar("T")


def replica_view(app: Application, address: str) -> LedgerView:
    """``app``'s read tables at ``address`` (``host:port``): the same database, schema and
    user as its store, a pool of its own; never creates a table (a standby is read-only)."""
    if not isinstance(app.factory, PostgresFactory):
        raise ValueError("READ_REPLICA is for PostgreSQL: SQLite has no standby.")
    host, _, port = address.rpartition(":")
    env = Environment(
        app.env.name,
        {
            **app.env,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": port,
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "1",
        },
    )
    datastore = PostgresFactory(env).datastore
    return PostgresLedgerView(datastore, tracking_table_name=tracking_table_name(LedgerProjection.name))


def falling_back(primary: Callable[[], T], replica: Callable[[], T]) -> Callable[[], T]:
    """``primary()``, or ``replica()`` while the primary does not answer."""

    def read() -> T:
        try:
            return primary()
        except (OperationalError, InterfaceError) as error:
            log.info("the primary does not answer (%s): reading the replica", error)
            return replica()

    return read
