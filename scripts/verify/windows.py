"""What each fault cost, as the clients saw it (not as a probe of the store sees it): the
longest stretch of the fault with no booking committed and a request failing in it, from
its first failed answer to the booking committed that ends it, and from the fault's start to
that booking; and the share of requests sent during the fault answered (any status, a 503
included) within ``PROMPT`` seconds."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from scripts.verify.history import Attempt, Fault, History

PROMPT = 2.0  # seconds: an answer later than this counts as not answered promptly


@dataclass(frozen=True)
class Window:
    fault: Fault
    first_failure: float | None  # seconds after the fault began; None: no request failed
    first_booking: float | None  # seconds after the fault began: the booking that ended the outage
    requests: int  # sent while the fault lasted
    prompt: int  # of those, answered within PROMPT seconds

    @property
    def unavailable(self) -> float | None:
        """From the first failure to the first committed booking after it (None: none came)."""
        if self.first_failure is None:
            return 0.0
        return None if self.first_booking is None else self.first_booking - self.first_failure


def window(fault: Fault, attempts: list[Attempt]) -> Window:
    during = [a for a in attempts if fault.began <= a.sent <= fault.ended]
    failures = sorted(a.answered for a in attempts if fault.began <= a.answered <= fault.ended and a.indeterminate)
    booked = sorted(a.answered for a in attempts if a.op == "book" and a.acknowledged)
    outages = [
        (next(f for f in failures if before < f < after), after)
        for before, after in pairwise([*booked, float("inf")])
        if after >= fault.began and before <= fault.ended and any(before < f < after for f in failures)
    ]
    first_failure, first_booking = max(outages, key=lambda o: o[1] - o[0], default=(None, None))
    return Window(
        fault,
        None if first_failure is None else first_failure - fault.began,
        None if first_booking is None or first_booking == float("inf") else first_booking - fault.began,
        len(during),
        sum(a.status is not None and a.answered - a.sent <= PROMPT for a in during),
    )


def windows(history: History) -> list[Window]:
    return [window(fault, history.attempts) for fault in history.faults]
