"""The read side: tables built from the ledger's event stream, with tracked positions."""

from projections.hold_expiry import HoldExpiry
from projections.read_model.projection import LedgerProjection
from projections.read_model.projector import Projector, open_view
from projections.read_model.views import LedgerView, TierAvailability

__all__ = ["Projector", "HoldExpiry", "LedgerProjection", "LedgerView", "TierAvailability", "open_view"]
