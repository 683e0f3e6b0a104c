"""A clock the ledgers read, that tests move on (holds, payments' deadlines)."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


class Clock:
    """The time the ledgers see; tests move it on."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now
