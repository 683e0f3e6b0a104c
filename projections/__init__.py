"""The read side: tables built from the ledger's event stream, with tracked positions."""

from projections.follower import Follower, open_view
from projections.projection import LedgerProjection
from projections.views import LedgerView, TierAvailability

__all__ = ["Follower", "LedgerProjection", "LedgerView", "TierAvailability", "open_view"]
