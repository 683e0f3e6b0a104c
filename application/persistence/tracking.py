"""The library's tracking recorders as the read model's views need them (a view is a tracking
recorder: ``projections/read_model/view_stores.py``), and what the read model's own SQL
assumes of the library's tracking table. Why, and what guards it: the index,
``application/persistence/__init__.py``."""

from __future__ import annotations

from typing import Any, TypeVar

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresFactory, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteFactory, SQLiteTrackingRecorder

from application.persistence.postgres import LockedDDL, bounded_retries
from application.persistence.storage import again_if_created_meanwhile

# The columns of the library's tracking table: a reader's name and the notification id it
# has applied up to. The read model moves its row itself, by compare-and-set
# (``projections/read_model/tables.py``), where the library's ``insert_tracking`` would
# insert or raise the row, so that of two overlapping projectors only one applies a page.
TRACKED_NAME = "application_name"
TRACKED_POSITION = "notification_id"

SQLiteView = TypeVar("SQLiteView", bound="SQLiteTracking")
PostgresView = TypeVar("PostgresView", bound="PostgresTracking")


class SQLiteTracking(SQLiteTrackingRecorder):
    """The library's SQLite tracking recorder, whose table creation runs again when a
    process that started with it made the tables first."""

    tracking_table = "tracking"  # the library's one tracking table in the file

    def create_table(self) -> None:
        """Create the tables; again if a worker that started with us made them first (its
        migration row is there: the second insert of it is refused)."""
        again_if_created_meanwhile(super().create_table)


class PostgresTracking(LockedDDL, PostgresTrackingRecorder):
    """The library's PostgreSQL tracking recorder, with its table creation under the store's
    DDL lock and its position read with the ledger's fewer tries.

    The library checks whether the tracking table exists before its DDL transaction, and
    records a migration row if it did not; a process that lost that race is refused the row.
    On the second try the check sees the table."""

    # Read by /ready and before each page a projector applies: no longer than a statement
    # of the ledger's own recorder when PostgreSQL is down.
    max_tracking_id = bounded_retries(PostgresTrackingRecorder.max_tracking_id)

    @property
    def tracking_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.tracking_table_name}"'


def tracking_table_name(projection_name: str) -> str:
    """The PostgreSQL tracking table of a projection named ``projection_name``, named as the
    library's ``ProjectionRunner`` names it (its factory's ``tracking_recorder``)."""
    return f"{projection_name.lower()}_tracking"


def open_tracking(
    factory: InfrastructureFactory,
    sqlite_view: type[SQLiteView],
    postgres_view: type[PostgresView],
    projection_name: str,
    **kwargs: Any,
) -> SQLiteView | PostgresView:
    """What ``factory.tracking_recorder`` would make of the view's class for the store, on the
    application's own datastore (and pool), with ``kwargs`` to the view's constructor, which
    the library's factory cannot pass; its tables created if the environment says so."""
    view: SQLiteView | PostgresView
    if isinstance(factory, SQLiteFactory):
        view = sqlite_view(factory.datastore, **kwargs)
    elif isinstance(factory, PostgresFactory):
        view = postgres_view(factory.datastore, tracking_table_name=tracking_table_name(projection_name), **kwargs)
    else:
        raise TypeError(f"No read tables for {type(factory).__name__}: use SQLite or PostgreSQL.")
    if factory.env_create_table():
        view.create_table()
    return view
