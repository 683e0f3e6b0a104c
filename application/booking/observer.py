"""What the ledger reports while it works, for whoever wants to measure it.

The default observer ignores everything; the web app plugs in Prometheus counters. The
application itself stays free of any metrics library.
"""

from __future__ import annotations

from domain.bookings import BookingStatus


class LedgerObserver:
    def conflict(self) -> None:
        """A recording lost the optimistic-concurrency race and will be retried."""

    def batch(self, size: int) -> None:
        """A group-commit batch of ``size`` requests was decided."""

    def booked(self, tier: str, quantity: int) -> None:
        """``quantity`` tickets of ``tier`` were sold: a booking, or a hold confirmed."""

    def held(self, tier: str, quantity: int) -> None:
        """A hold of ``quantity`` tickets of ``tier`` was recorded."""

    def hold_ended(self, tier: str, reason: BookingStatus) -> None:
        """A hold of ``tier`` ended without a sale: ``RELEASED`` or ``EXPIRED``."""
