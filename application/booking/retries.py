"""Running a command again when another writer recorded the aggregate's next version first."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import IntegrityError

from application.errors import LedgerBusyError

T = TypeVar("T")


class Retries:
    """At most ``attempts`` tries of a command, each conflict reported to ``conflict``.

    The winner of a conflict has committed, so the loser tries again at once: sleeping
    would only let the winner win again. Only a run of
    losses, a sign of many writers, backs off, with "full jitter" up to ``backoff_cap``
    seconds; after the last, ``LedgerBusyError``: nothing recorded, never a silent loss.
    """

    def __init__(self, attempts: int, backoff_cap: float, conflict: Callable[[], None]) -> None:
        self.attempts = attempts
        self.backoff_cap = backoff_cap
        self.conflict = conflict

    def __call__(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it records without an optimistic-concurrency conflict."""
        for n in range(self.attempts):
            try:
                return attempt()
            except IntegrityError:
                self.conflict()
                if n >= 3:
                    time.sleep(random.uniform(0, min(self.backoff_cap, 0.001 * 2 ** (n - 3))))
        raise LedgerBusyError(f"Gave up after {self.attempts} conflicting attempts; retry later.")
