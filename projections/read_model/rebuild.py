"""Rebuild the read tables from the event store without downtime.

The new tables are built beside the live ones (``availability_rebuild``,
``bookings_rebuild``, with their own tracked position), caught up to the head of the
store, indexed, and then swapped in with the position in one transaction. Readers see
the old tables until the swap and the new ones after it; whoever keeps the live tables
up to date finds its position moved and carries on from there. A rebuild stopped half
way leaves the live tables untouched, and the next run starts its tables afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from eventsourcing.application import Application

from projections.read_model.projector import Projector, open_view

SHADOW = "_rebuild"


def build_shadow(app: Application, progress: Callable[[int], None] | None = None) -> tuple[Projector, int]:
    """Fresh tables beside the live ones, caught up with every event recorded so far."""
    name = f"{app.name}{SHADOW}"
    shadow = open_view(app, SHADOW)
    shadow.drop_tables(name)
    shadow.create_table()
    projector = Projector(app, shadow, tracking_name=name)
    return projector, projector.catch_up(progress)


def rebuild(app: Application, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild and swap in; return how many events were applied."""
    projector, applied = build_shadow(app, progress)
    projector.view.prepare_swap()
    applied += projector.catch_up(progress)  # what was recorded meanwhile
    projector.view.swap_into_place(app.name, projector.name)
    return applied


def differences(app: Application, progress: Callable[[int], None] | None = None) -> list[str]:
    """Rebuild beside the live tables and compare them row by row at one position;
    the live tables are left as they are. Returns one line per differing row."""
    shadow, _ = build_shadow(app, progress)
    live = Projector(app, open_view(app))
    for _ in range(10):  # writers may move the head between the two catch-ups
        live.catch_up()
        shadow.catch_up()
        if live.position == shadow.position:
            break
    found = compare("availability", *({t.tier: t for t in f.view.list_all_tiers()} for f in (live, shadow)))
    found += compare("shows", *({s.code: s for s in f.view.list_shows()} for f in (live, shadow)))
    found += compare("bookings", *({b.booking_id: b for b in f.view.all_bookings()} for f in (live, shadow)))
    found += compare(
        "checkins", *({(s.ticket_id, s.gate, s.scan_id): s for s in f.view.all_scans()} for f in (live, shadow))
    )
    shadow.view.drop_tables(shadow.name)
    return found


def compare(table: str, live: dict[Any, Any], rebuilt: dict[Any, Any]) -> list[str]:
    """One line per row that differs, naming the fields (or the side it is missing from)."""
    found = []
    for key in sorted(live.keys() | rebuilt.keys(), key=str):
        old, new = live.get(key), rebuilt.get(key)
        if old is None or new is None:
            found.append(f"{table} {key}: only in the {'rebuilt' if old is None else 'live'} table")
        elif old != new:
            fields = [
                f"{name} live {value!s}, rebuilt {asdict(new)[name]!s}"
                for name, value in asdict(old).items()
                if value != asdict(new)[name]
            ]
            found.append(f"{table} {key}: " + "; ".join(fields))
    return found
