"""The read side: tables built from the ledger's event stream, with tracked positions."""

from projections.follower import Follower, open_view
from projections.projection import LedgerProjection
from projections.views import BookingRow, LedgerView, TierAvailability

__all__ = ["BookingRow", "Follower", "LedgerProjection", "LedgerView", "TierAvailability", "open_view"]
