"""Bring the read tables up to date by reading the event store from the tracked position.

This is how the read side follows both stores (the library's SQLite recorder cannot
``subscribe`` at all) and how rebuilds replay history. Each page of events is applied
in one transaction with its position, which is what keeps up with a hot sale.

Reading from the tracked position is safe because both stores hand out notification
ids in commit order (PostgreSQL through the recorder's table lock, SQLite because it
has one writer at a time), so no event can later appear behind the position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from application.persistence.tracking import open_tracking
from projections.pages import follow, pages
from projections.read_model.projection import LedgerProjection
from projections.read_model.view_stores import PostgresLedgerView, SQLiteLedgerView
from projections.read_model.views import LedgerView

log = logging.getLogger(__name__)


def open_view(app: Application, suffix: str = "") -> LedgerView:
    """The read tables in the same database as ``app``'s events, sharing its pool
    (with a ``suffix``: a rebuild's fresh tables)."""
    return open_tracking(app.factory, SQLiteLedgerView, PostgresLedgerView, LedgerProjection.name, suffix=suffix)


class Projector:
    """Applies an application's new events to the read tables, in order. (Not the library's
    ``eventsourcing.system.Follower``: this one reads pages from a tracked position.)"""

    def __init__(
        self, app: Application, view: LedgerView, batch_size: int = 1000, tracking_name: str | None = None
    ) -> None:
        self.app = app
        self.view = view
        self.name = tracking_name or app.name  # whose position this is
        self.projection = LedgerProjection(view)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def lag(self) -> int:
        """How many notifications the store has that the read tables have not seen: none
        once they hold every event of theirs, though events of other kinds (an organizer's,
        a staff member's) may be stored after their position."""
        behind = (self.app.recorder.max_notification_id() or 0) - self.position
        return behind if behind and not self.caught_up() else 0

    def caught_up(self) -> bool:
        """Whether the read tables hold every event of theirs that is stored now: then
        they show every write that finished before this call."""
        return not self._oldest_unseen()

    def lag_seconds(self) -> float:
        """How long the oldest event not yet in the read tables has been waiting."""
        waiting = self._oldest_unseen()
        if not waiting:
            return 0.0
        recorded = self.app.mapper.to_domain_event(waiting[0]).timestamp
        return max(0.0, (datetime.now(UTC) - recorded).total_seconds())

    def _oldest_unseen(self) -> list:
        """The first notification of the read tables' topics after their position (or none)."""
        return self.app.recorder.select_notifications(self.position + 1, 1, topics=self.projection.topics)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event recorded so far, a page per transaction; return how many."""
        applied = 0
        with self._lock:
            for page in pages(self.app, lambda: self.position, self.projection.topics, self.batch_size, self._apply):
                applied += page
                if progress:
                    progress(applied)
        return applied

    def _apply(self, events: list, after: int, last: int) -> None:
        self.projection.process_events(events, after, Tracking(self.name, last))

    def follow(self, stop: threading.Event, interval: float = 0.05) -> None:
        """Catch up, then poll every ``interval`` seconds until ``stop`` is set (``pages.follow``)."""
        follow(self.catch_up, lambda: self.position, stop, interval)

    def start(self, stop: threading.Event, interval: float) -> threading.Thread:
        """``follow`` in a thread of its own (the web process on SQLite)."""
        thread = threading.Thread(target=self.follow, args=(stop, interval), name="read-tables", daemon=True)
        thread.start()
        return thread
