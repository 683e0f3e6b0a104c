"""An anomaly: one instance of a broken promise, found by the checker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anomaly:
    kind: str  # one of checker.KINDS
    message: str
    attempts: tuple[int, ...] = ()  # the ids of the history's attempts it concerns
