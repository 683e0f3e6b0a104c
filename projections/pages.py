"""Following an application's event store from a tracked position, a page at a time: how
the read tables and the integrations' outbox both keep up.

Reading from the tracked position is safe because both stores hand out notification ids
in commit order (PostgreSQL through the recorder's table lock, SQLite because it has one
writer at a time), so no event can later appear behind the position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

log = logging.getLogger(__name__)


def pages(
    app: Application,
    position: Callable[[], int],
    topics: Sequence[str],
    batch_size: int,
    write: Callable[[list, int, int], None],
) -> Iterator[int]:
    """Read ``app``'s notifications of ``topics`` after ``position()``, a page at a time,
    and have ``write(events, after, last)`` record each page with its new position, moved
    by compare-and-set from ``after``, in one transaction; yield each page's size. When
    another writer moved the position first (an ``IntegrityError`` and a position that
    moved), the page is read again from there; any other refusal is raised. The position
    is read once: after a page, it is where that page moved it (a round trip less a page)."""
    after = position()
    while True:
        notifications = app.recorder.select_notifications(after + 1, batch_size, topics=topics)
        if not notifications:
            return
        events = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
        try:
            write(events, after, notifications[-1].id)
        except IntegrityError:
            moved = position()
            if moved == after:
                raise  # not a lost race: the page itself could not be written
            after = moved  # another writer moved the position first: read on from there
            continue
        after = notifications[-1].id
        yield len(events)


def follow(catch_up: Callable[[], int], position: Callable[[], int], stop: threading.Event, interval: float) -> None:
    """``catch_up``, then again every ``interval`` seconds until ``stop`` is set.

    While the store does not answer (a restart, a crash, a failover) it keeps trying, so
    what follows the store resumes by itself when the store is back: a page commits with
    its position in one transaction, so a page cut off is applied again whole. A page
    that cannot be applied for another reason is logged with its traceback and tried
    again a second later: it stops there, loudly, and ``/ready`` reports the growing lag."""
    while not stop.is_set():
        wait = interval
        try:
            catch_up()
        except (OperationalError, InterfaceError) as error:
            log.warning("event store unavailable, trying again: %s", error)
        except Exception:
            log.exception("could not apply the events after position %s; trying again", position())
            wait = max(interval, 1.0)
        stop.wait(wait)
