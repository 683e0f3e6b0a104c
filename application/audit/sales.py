"""A tier's sales minute by minute, from its events.

The read tables keep only totals; the events keep every sale with its time, so the series
is exact and comes out the same on every replay. Built on the audit's replay
(``TierAudit.history``), which gives the tier's figures after each event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from application.audit.tier_audit import AuditLine


@dataclass
class SalesMinute:
    """What happened to a tier's tickets in one minute (UTC)."""

    minute: datetime
    sold: int = 0  # sold outright, or by a hold confirmed
    cancelled: int = 0  # put back by cancelling a sale
    held: int = 0  # newly set aside by holds


@dataclass
class SalesHistory:
    """Only the minutes in which something was sold, cancelled or held, in order."""

    tier: str
    version: int = 0
    minutes: list[SalesMinute] = field(default_factory=list)
    sold_out_at: datetime | None = None  # since when nothing is available, if nothing is


def sales_per_minute(code: str, lines: Iterable[AuditLine]) -> SalesHistory:
    """Bucket the changes between consecutive audit lines by the minute of their event.
    (Processes' clocks may disagree a little, so a minute may come round again.)"""
    history = SalesHistory(code)
    minutes: dict[datetime, SalesMinute] = {}
    sold = held = 0
    for line in lines:
        sold_change, held_change = line.sold - sold, line.held - held
        sold, held, history.version = line.sold, line.held, line.version
        if sold_change or held_change > 0:
            start = line.at.replace(second=0, microsecond=0)
            minute = minutes.setdefault(start, SalesMinute(start))
            minute.sold += max(sold_change, 0)
            minute.cancelled += max(-sold_change, 0)
            minute.held += max(held_change, 0)
        history.sold_out_at = (history.sold_out_at or line.at) if line.available == 0 else None
    history.minutes = sorted(minutes.values(), key=lambda minute: minute.minute)
    return history
