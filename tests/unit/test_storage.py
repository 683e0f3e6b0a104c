"""Concurrent first creation of the tables: the loser tries again, real errors surface."""

from __future__ import annotations

import psycopg.errors
import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError

from application.storage import again_if_created_meanwhile


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


@pytest.mark.parametrize("cause", [psycopg.errors.DuplicateTable("relation exists"),
                                   psycopg.errors.UniqueViolation("pg_type_typname_nsp_index")])
def test_losing_a_concurrent_creation_twice_still_succeeds(cause):
    kind = ProgrammingError if isinstance(cause, psycopg.errors.DuplicateTable) else IntegrityError
    create = failing_first(library_error(kind, cause), library_error(kind, cause))
    assert again_if_created_meanwhile(create) == "created"


def test_any_other_programming_error_surfaces_at_once():
    create = failing_first(library_error(ProgrammingError, psycopg.errors.UndefinedTable("no such table")))
    with pytest.raises(ProgrammingError, match="no such table"):
        again_if_created_meanwhile(create)
