"""The read side: tables built from the ledger's event stream, with tracked positions."""

from projections.expiry import HoldExpiry
from projections.follower import Follower, open_view
from projections.projection import LedgerProjection
from projections.views import LedgerView, TierAvailability

__all__ = ["Follower", "HoldExpiry", "LedgerProjection", "LedgerView", "TierAvailability", "open_view"]
