"""The waiting room of an on-sale: the audited record of one room, from opening to close.

The queue itself (who is where, who is admitted) lives in a fast shared store
(``application/waiting_room/store.py``): tens of thousands of joins a second are no events.
What an audit needs is recorded here, as events: the room's terms when it was turned
on, every change of its admission rate and why, the counts of buyers who joined and
were admitted (every so often while it is on, and at close), and its close.

Admission is by rate: by time ``t`` the room has admitted at most the integral of its
rate since opening, and never more buyers than have joined. ``admitted`` counts the
places the rate has reached; ``passes`` counts the buyers who collected their pass.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidWaitingRoomError, WaitingRoomClosedError
from domain.tiers import TIER_CODE

# Bounds that keep a room's terms sane: a rate beyond this is no waiting room at all,
# and a pass shorter than a second could not be used.
MAX_RATE = 1_000_000.0
MIN_PASS_SECONDS = 1
MAX_PASS_SECONDS = 24 * 3600


def check_rate(rate: float) -> None:
    """Raise unless ``rate`` (buyers per second) is a number from 0 (paused) to ``MAX_RATE``."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= MAX_RATE:
        raise InvalidWaitingRoomError(
            f"Rate must be a number of buyers per second from 0 to {MAX_RATE:,.0f}, got {rate!r}."
        )


class WaitingRoom(Aggregate):
    """One waiting room, turned on for some tiers (``None``: every tier) of a sale."""

    class Opened(Aggregate.Created):
        tiers: list[str] | None
        opens_at: datetime
        rate: float
        auto_rate: bool
        pass_seconds: int

    class RateChanged(Aggregate.Event):
        rate: float
        auto_rate: bool
        reason: str

    class AdmissionsCounted(Aggregate.Event):
        joined: int
        admitted: int
        passes: int

    class Closed(Aggregate.Event):
        joined: int
        admitted: int
        passes: int

    @classmethod
    def open(
        cls, tiers: list[str] | None, opens_at: datetime, rate: float, auto_rate: bool, pass_seconds: int
    ) -> WaitingRoom:
        """Check the room's terms, then turn it on (the ``Opened`` event)."""
        if tiers is not None and (not tiers or not all(isinstance(t, str) and TIER_CODE.fullmatch(t) for t in tiers)):
            raise InvalidWaitingRoomError(
                f"Tiers must be a non-empty list of tier codes, or none for all, got {tiers!r}."
            )
        check_rate(rate)
        if (
            isinstance(pass_seconds, bool)
            or not isinstance(pass_seconds, int)
            or not (MIN_PASS_SECONDS <= pass_seconds <= MAX_PASS_SECONDS)
        ):
            raise InvalidWaitingRoomError(
                f"A pass lasts {MIN_PASS_SECONDS} to {MAX_PASS_SECONDS} seconds, got {pass_seconds!r}."
            )
        if opens_at.tzinfo is None:
            raise InvalidWaitingRoomError("The opening time needs a time zone.")
        return cls(
            tiers=sorted(set(tiers)) if tiers is not None else None,
            opens_at=opens_at,
            rate=float(rate),
            auto_rate=auto_rate,
            pass_seconds=pass_seconds,
        )

    @event(Opened)
    def __init__(
        self, tiers: list[str] | None, opens_at: datetime, rate: float, auto_rate: bool, pass_seconds: int
    ) -> None:
        self.tiers = tiers
        self.opens_at = opens_at
        self.rate = rate
        self.auto_rate = auto_rate
        self.pass_seconds = pass_seconds
        self.joined = self.admitted = self.passes = 0
        self.is_open = True

    def change_rate(self, rate: float, auto_rate: bool, reason: str) -> None:
        """Admit ``rate`` buyers a second from now on; nothing is recorded if nothing changes."""
        self._check_open()
        check_rate(rate)
        if (float(rate), auto_rate) != (self.rate, self.auto_rate):
            self._change_rate(rate=float(rate), auto_rate=auto_rate, reason=reason)

    @event(RateChanged)
    def _change_rate(self, rate: float, auto_rate: bool, reason: str) -> None:
        self.rate = rate
        self.auto_rate = auto_rate

    def count_admissions(self, joined: int, admitted: int, passes: int) -> None:
        """Record how many have joined and been admitted so far, if that changed."""
        self._check_open()
        self._check_counts(joined, admitted, passes)
        if (joined, admitted, passes) != (self.joined, self.admitted, self.passes):
            self._count_admissions(joined=joined, admitted=admitted, passes=passes)

    @event(AdmissionsCounted)
    def _count_admissions(self, joined: int, admitted: int, passes: int) -> None:
        self.joined, self.admitted, self.passes = joined, admitted, passes

    def close(self, joined: int, admitted: int, passes: int) -> None:
        """Turn the room off, with the final counts."""
        self._check_open()
        self._check_counts(joined, admitted, passes)
        self._close(joined=joined, admitted=admitted, passes=passes)

    @event(Closed)
    def _close(self, joined: int, admitted: int, passes: int) -> None:
        self.joined, self.admitted, self.passes = joined, admitted, passes
        self.is_open = False

    def _check_open(self) -> None:
        if not self.is_open:
            raise WaitingRoomClosedError(f"Waiting room {self.id} is closed.")

    def _check_counts(self, joined: int, admitted: int, passes: int) -> None:
        """Counts only grow, and nobody is admitted who did not join."""
        if not (
            self.joined <= joined
            and self.admitted <= admitted
            and self.passes <= passes
            and passes <= admitted <= joined
        ):
            raise InvalidWaitingRoomError(
                f"Counts must grow and satisfy passes <= admitted <= joined: had {self.joined}/{self.admitted}/"
                f"{self.passes}, got {joined}/{admitted}/{passes}."
            )
