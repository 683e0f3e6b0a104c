"""Fill the outbox (``integration_events``) from the event store, exactly once.

It follows the store as the read tables do (``projections/pages.py``): read the domain events
after the tracked notification id, a page at a time, and write the page's notices, the
mapping state they leave, and the new position in one transaction. The position
moves first, by compare-and-set, so a second writer (another projection process, or
``ticketledger feed`` catching up on its own) waits on the row, then finds it moved and
writes nothing; and the state is read after that, so it is always the state as of the
position. A crash mid-page leaves nothing of the page.
"""

from __future__ import annotations

import threading

from eventsourcing.application import Application

from domain.payments import Payment
from projections.integrations.mapping import MONEY, TOPICS, NoticeMapper, needs
from projections.integrations.store import OUTBOX, IntegrationTables
from projections.pages import follow, pages


class Outbox:
    """Maps an application's new domain events to notices, in order."""

    def __init__(self, app: Application, tables: IntegrationTables, batch_size: int = 1000) -> None:
        self.app = app
        self.tables = tables
        self.batch_size = batch_size
        self.appended = threading.Condition()  # notified after each page, for waiting readers here

    @property
    def position(self) -> int:
        """The last notification id mapped (not a notice's position)."""
        return self.tables.position(OUTBOX) or 0

    def catch_up(self) -> int:
        """Map every domain event recorded so far, a page per transaction; return how many."""
        mapped = 0
        for page in pages(self.app, lambda: self.position, TOPICS, self.batch_size, self._write):
            mapped += page
            with self.appended:
                self.appended.notify_all()
        return mapped

    def _write(self, domain_events: list, after: int, last: int) -> None:
        openings = self._openings(domain_events)
        with self.tables.transaction() as tx:
            self.tables.move_outbox(tx, after, last)
            wanted = [needs(domain_event, openings) for domain_event, _ in domain_events]
            state = self.tables.load_state(
                tx, {tier for tier, _ in wanted}, {hold for _, hold in wanted if hold is not None}
            )
            mapper = NoticeMapper(state, openings)
            notices = [notice for domain_event, n in domain_events for notice in mapper.map(domain_event, n)]
            self.tables.append(tx, notices, state)

    def _openings(self, domain_events: list) -> dict[str, Payment.Opened]:
        """The opening of each payment in the page: in the page, or the payment's first
        domain event in the store (read before the page's transaction)."""
        openings = {str(e.originator_id): e for e, _ in domain_events if isinstance(e, Payment.Opened)}
        for domain_event, _ in domain_events:
            key = str(domain_event.originator_id)
            if isinstance(domain_event, MONEY) and key not in openings:
                openings[key] = next(iter(self.app.repository.event_store.get(domain_event.originator_id, lte=1)))
        return openings

    def follow(self, stop: threading.Event, interval: float = 0.05) -> None:
        """Catch up, then poll every ``interval`` seconds until ``stop`` is set (``pages.follow``)."""
        follow(self.catch_up, lambda: self.position, stop, interval)


def wait_for_news(news: threading.Condition | None, stop: threading.Event, interval: float) -> None:
    """Wait until the outbox of this process appends a page (``news``), ``stop`` is set,
    or ``interval`` seconds pass (pages another process wrote are seen by polling)."""
    if news is None:
        stop.wait(interval)
        return
    with news:
        news.wait(timeout=interval)
