"""Concurrent first creation of the tables: the loser tries again, real errors surface."""

from __future__ import annotations

import sqlite3
import time

import psycopg.errors
import pytest
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from eventsourcing.utils import Environment, get_topic, retry

from application.errors import StoreTimeoutError
from application.persistence import storage
from application.persistence.application import prepare_store
from application.persistence.deadline import store_deadline
from application.persistence.postgres import STORE_ATTEMPTS, LedgerPostgresFactory, bounded_retries
from application.persistence.storage import again_if_created_meanwhile


def failing_first(*errors: Exception):
    """A DDL step that raises ``errors`` one per call, then succeeds."""
    calls = iter(errors)

    def create() -> str:
        error = next(calls, None)
        if error is not None:
            raise error
        return "created"

    return create


def library_error(kind: type[Exception], cause: Exception) -> Exception:
    """An error as the library raises it: its own class, psycopg's error as the cause."""
    try:
        raise kind(str(cause)) from cause
    except kind as error:
        return error


@pytest.mark.parametrize(
    "cause",
    [psycopg.errors.DuplicateTable("relation exists"), psycopg.errors.UniqueViolation("pg_type_typname_nsp_index")],
)
def test_losing_a_concurrent_creation_twice_still_succeeds(cause):
    kind = ProgrammingError if isinstance(cause, psycopg.errors.DuplicateTable) else IntegrityError
    create = failing_first(library_error(kind, cause), library_error(kind, cause))
    assert again_if_created_meanwhile(create) == "created"


def test_a_sqlite_file_locked_by_another_workers_creation_is_waited_for():
    """Two gunicorn workers on SQLite starting together: one finds the file locked by the
    other's DDL; it tries again instead of failing to boot (which shut the server down)."""
    locked = library_error(OperationalError, sqlite3.OperationalError("database is locked"))
    assert again_if_created_meanwhile(failing_first(locked, locked, locked)) == "created"


def test_a_postgresql_that_does_not_answer_while_a_worker_boots_is_waited_for(monkeypatch):
    """A gunicorn worker booting during a failover (verify --cluster: the leader's host lost
    while a web host started again): its tables' creation met the cut connection and the
    worker failed to boot, which shut its whole server down."""
    monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
    gone = library_error(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"))
    assert again_if_created_meanwhile(failing_first(gone, gone, gone)) == "created"


def test_any_other_operational_error_surfaces_at_once():
    create = failing_first(library_error(OperationalError, sqlite3.OperationalError("disk I/O error")))
    with pytest.raises(OperationalError, match="disk I/O error"):
        again_if_created_meanwhile(create)


def test_any_other_programming_error_surfaces_at_once():
    create = failing_first(library_error(ProgrammingError, psycopg.errors.UndefinedTable("no such table")))
    with pytest.raises(ProgrammingError, match="no such table"):
        again_if_created_meanwhile(create)


def a_library_statement(errors: list[Exception], tries: list[float]):
    """A recorder method as the library declares it: wrapped in its own ``retry``, which
    tries ten times; each call records its time and raises the next error, if any."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0)
    def statement() -> str:
        tries.append(time.monotonic())
        if errors:
            raise errors.pop(0)
        return "rows"

    return statement


@pytest.mark.parametrize("lost", [OperationalError("server closed the connection"), InterfaceError("pool closed")])
def test_a_statement_whose_connection_is_lost_is_tried_again_once_a_moment_later(lost):
    tries: list[float] = []
    statement = bounded_retries(a_library_statement([lost], tries))
    assert statement() == "rows"
    assert len(tries) == STORE_ATTEMPTS == 2 and 0.15 < tries[1] - tries[0] < 0.5
    tries.clear()
    statement = bounded_retries(a_library_statement([lost, lost, lost], tries))
    with pytest.raises(type(lost)):
        statement()
    assert len(tries) == STORE_ATTEMPTS


def test_a_retry_whose_pause_would_end_past_the_store_deadline_is_not_made_the_deadline_answers_at_once():
    tries: list[float] = []
    statement = bounded_retries(a_library_statement([OperationalError("server closed the connection")], tries))
    with store_deadline(time.monotonic() + 0.1), pytest.raises(StoreTimeoutError):
        statement()
    assert len(tries) == 1 and time.monotonic() - tries[0] < 0.1  # not after the library's 0.2 s pause


def test_a_statement_that_fails_otherwise_is_not_tried_again():
    tries: list[float] = []
    statement = bounded_retries(a_library_statement([IntegrityError("duplicate key")], tries))
    with pytest.raises(IntegrityError):
        statement()
    assert len(tries) == 1


@pytest.mark.parametrize("name", ["{dir}/a/b/ledger.sqlite3", "file:{dir}/a/b/ledger.sqlite3?mode=rwc"])
def test_the_folder_of_a_sqlite_file_is_made_with_its_parents_and_again_changes_nothing(tmp_path, name):
    env = Environment(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name.format(dir=tmp_path)})
    prepare_store(env)
    prepare_store(env)
    assert (tmp_path / "a" / "b").is_dir() and not (tmp_path / "a" / "b" / "ledger.sqlite3").exists()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"


@pytest.mark.parametrize("name", [":memory:", "file:mem/ledger?mode=memory&cache=shared"])
def test_an_in_memory_sqlite_database_makes_no_folder(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    prepare_store(Environment(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}))
    assert list(tmp_path.iterdir()) == []


def test_postgresql_is_given_the_ledgers_own_factory():
    env = Environment(env={"PERSISTENCE_MODULE": "eventsourcing.postgres"})
    prepare_store(env)
    assert env["PERSISTENCE_MODULE"] == get_topic(LedgerPostgresFactory)
