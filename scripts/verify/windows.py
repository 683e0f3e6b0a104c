"""What each fault cost, as the clients saw it (not as a probe of the store sees it): from the
first failed answer to the first booking acknowledged after it, from the fault's start to
that booking, and the share of requests sent during the fault answered (any status, a 503
included) within ``PROMPT`` seconds."""

from __future__ import annotations

from dataclasses import dataclass

from scripts.verify.history import Attempt, Fault, History

PROMPT = 2.0  # seconds: an answer later than this counts as not answered promptly


@dataclass(frozen=True)
class Window:
    fault: Fault
    first_failure: float | None  # seconds after the fault began; None: no request failed
    first_booking: float | None  # seconds after the fault began: the first 201 sent after that failure
    requests: int  # sent while the fault lasted
    prompt: int  # of those, answered within PROMPT seconds

    @property
    def unavailable(self) -> float | None:
        """From the first failure to the first committed booking after it."""
        if self.first_failure is None:
            return 0.0
        return None if self.first_booking is None else self.first_booking - self.first_failure


def window(fault: Fault, attempts: list[Attempt]) -> Window:
    during = [a for a in attempts if fault.began <= a.sent <= fault.ended]
    failed = [a.answered for a in attempts if fault.began <= a.answered and a.indeterminate]
    first_failure = min(failed, default=None)
    booked = [
        a.answered
        for a in attempts
        if a.op == "book" and a.acknowledged and first_failure is not None and a.sent >= first_failure
    ]
    first_booking = min(booked, default=None)
    return Window(
        fault,
        None if first_failure is None else first_failure - fault.began,
        None if first_booking is None else first_booking - fault.began,
        len(during),
        sum(a.status is not None and a.answered - a.sent <= PROMPT for a in during),
    )


def windows(history: History) -> list[Window]:
    """One window per fault: a failure belongs to the fault during which it came (or the
    last one before it)."""
    found = []
    for n, fault in enumerate(history.faults):
        until = history.faults[n + 1].began if n + 1 < len(history.faults) else float("inf")
        found.append(window(fault, [a for a in history.attempts if a.answered < until]))
    return found
