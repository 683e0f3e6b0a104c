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
