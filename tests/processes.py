"""A test's gunicorn server whose log must stay clean (the process helpers themselves are
``scripts.harness.processes``, shared with ``ticketledger verify``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.harness.processes import gunicorn


@contextmanager
def clean_gunicorn(env: dict[str, str], folder: Path) -> Iterator[str]:
    """``gunicorn`` with its log in ``folder/gunicorn.log``; yield the base URL. At the end
    the log must hold no traceback: an error the answers hid still fails the test."""
    with open(folder / "gunicorn.log", "w+") as log:
        with gunicorn(env, log) as (base, _):
            yield base
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output


@contextmanager
def clean_sqlite_gunicorn(settings: dict[str, str], folder: Path) -> Iterator[str]:
    """``clean_gunicorn`` on a SQLite file of its own in ``folder``, as ``make serve`` runs."""
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "ledger.sqlite3")}
    with clean_gunicorn({**store, **settings}, folder) as base:
        yield base
