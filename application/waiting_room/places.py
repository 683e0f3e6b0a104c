"""A buyer's place in the queue as they see it (the API's "queue ticket"): its state,
position, estimated wait, when to look again, and once admitted the pass.

States: ``waiting`` (before the opening without a position: places are drawn then),
``admitted`` (with the pass, until it expires), ``expired`` (join again, at the back),
``soldOut`` (nothing of the room's tiers left or held), ``closed`` (no room: book directly).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from application.waiting_room.passes import Pass
from application.waiting_room.store import Place, RoomTerms

# A waiting buyer is told to look again after half its estimated wait, within these
# bounds, give or take a tenth (so that buyers who joined together do not come back together).
MIN_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 20.0
POLL_JITTER = 0.1

WAITING, ADMITTED, EXPIRED, SOLD_OUT, CLOSED = "waiting", "admitted", "expired", "soldOut", "closed"


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class PlaceStatus:
    """A buyer's place, as the queue endpoints show it."""

    ticket_id: str  # the signed ticket (``application/waiting_room/tickets.py``)
    user_id: str | None
    state: str
    message: str
    number: int | None = None  # the place: admitted once ``admitted`` reaches it (None: drawn at the opening)
    position: int | None = None  # 1: next to be admitted
    joined: int | None = None
    admitted: int | None = None
    estimated_wait: float | None = None  # seconds
    poll_after: float | None = None  # seconds; None: no need to look again
    opens_at: datetime | None = None
    queue_pass: str | None = None
    pass_expires_at: datetime | None = None


def describe(terms: RoomTerms, place: Place, ticket: str, sold_out: bool, sign: Callable[[Pass], str]) -> PlaceStatus:
    """The buyer's view of ``place`` in the room with ``terms``, held as ``ticket``; ``sign`` makes the pass."""
    gate, now = place.gate, place.gate.now
    base = PlaceStatus(
        ticket,
        place.user_id,
        WAITING,
        "",
        number=final_number(place, terms.opens_at),
        joined=gate.joined,
        admitted=gate.admitted,
        opens_at=from_epoch(terms.opens_at),
    )
    if sold_out:
        return replace(base, state=SOLD_OUT, message="Sold out while you waited: nothing is left to book.")
    if place.admitted_at is not None:
        expires_at = place.admitted_at + terms.pass_seconds
        if now >= expires_at:
            return replace(
                base,
                state=EXPIRED,
                pass_expires_at=from_epoch(expires_at),
                message="Your pass has expired: join again for a new place at the back.",
            )
        token = sign(Pass(terms.room_id, place.user_id, expires_at))
        return replace(
            base,
            state=ADMITTED,
            queue_pass=token,
            pass_expires_at=from_epoch(expires_at),
            estimated_wait=0.0,
            position=0,
            message=f"Your turn: book within {math.ceil(expires_at - now)} s, with this pass.",
        )
    wait = estimated_wait(place, terms.opens_at)
    if now < terms.opens_at:
        message = (
            f"The sale opens at {from_epoch(terms.opens_at).isoformat(timespec='seconds')}. Everyone who joins "
            "before then gets a place drawn at random at the opening: arriving early gives no edge."
        )
        position = None
    else:
        position = place.number - gate.admitted
        message = f"You are number {position} in the queue."
    return replace(
        base, state=WAITING, position=position, estimated_wait=wait, poll_after=poll_after(wait), message=message
    )


def final_number(place: Place, opens_at: float) -> int | None:
    """The place's number once it can no longer change (a pre-queue's is drawn at the opening)."""
    return None if place.pre_queue and place.gate.now < opens_at else place.number


def estimated_wait(place: Place, opens_at: float) -> float | None:
    """Seconds until ``place`` is admitted at the current rate (``None`` while paused)."""
    gate = place.gate
    if gate.rate <= 0:
        return None
    return round(max(0.0, opens_at - gate.now) + max(0.0, place.number - gate.frontier) / gate.rate, 1)


def poll_after(wait: float | None) -> float:
    if wait is None:
        return MAX_POLL_SECONDS
    middle = min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, wait / 2))
    return round(middle * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER), 2)
