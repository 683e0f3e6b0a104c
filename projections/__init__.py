"""The read side: tables built from the ledger's event stream, with tracked positions."""

from projections.hold_expiry import HoldExpiry
from projections.read_model.follower import Follower, open_view
from projections.read_model.projection import LedgerProjection
from projections.read_model.views import LedgerView, TierAvailability

__all__ = ["Follower", "HoldExpiry", "LedgerProjection", "LedgerView", "TierAvailability", "open_view"]
