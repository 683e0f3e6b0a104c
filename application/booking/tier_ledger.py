"""``TierLedger``: the ledger's tiers, created, found, given more capacity and closed; the
base of ``BookingLedger``, which sells them (``ledger.py``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from eventsourcing.persistence import IntegrityError

from application.booking.receipts import TierDetails
from application.booking.retries import Retries
from application.errors import TierAlreadyExistsError, TierNotFoundError
from application.persistence.library import CachingApplication
from domain.tiers import TicketTier, tier_id


class TierLedger(CachingApplication):
    """Tier administration: each command decides on the tier and saves it, deciding again
    on a conflict (``_retries``, set by the subclass)."""

    _retries: Retries

    def create_tier(self, code: str, price: Decimal, capacity: int, per_user_limit: int | None = None) -> TierDetails:
        """Create a tier; raise ``TierAlreadyExistsError`` if the code is taken."""
        tier = TicketTier.open(code, price, capacity, per_user_limit)
        try:
            self.save(tier)
        except IntegrityError:
            raise TierAlreadyExistsError(f"Tier {code!r} exists already.") from None
        return TierDetails.of(tier)

    def ensure_tier(self, code: str, price: Decimal, capacity: int) -> bool:
        """Create the tier unless it exists; safe when several processes race.

        Returns whether this call created it. The tier's id is derived from its code,
        so a racing creator's ``save`` conflicts on version 1 and loses cleanly.
        """
        if tier_id(code) in self.repository:
            return False
        try:
            self.create_tier(code, price, capacity)
        except TierAlreadyExistsError:
            return False
        return True

    def add_capacity(self, code: str, quantity: int) -> TierDetails:
        return self._change_tier(code, lambda tier: tier.add_capacity(quantity))

    def close_sales(self, code: str) -> TierDetails:
        return self._change_tier(code, TicketTier.close_sales)

    def _change_tier(self, code: str, command: Callable[[TicketTier], None]) -> TierDetails:
        def attempt() -> TierDetails:
            tier = self._get_tier(code)
            command(tier)
            self.save(tier)
            return TierDetails.of(tier)

        return self._retries(attempt)

    def _get_tier(self, code: str) -> TicketTier:
        tier = self.find_tier(code)
        if tier is None:
            raise TierNotFoundError(f"No tier {code!r}.")
        return tier

    def find_tier(self, code: str) -> TicketTier | None:
        """The tier as it is now (a copy, to change), if there is one."""
        return self.aggregate(tier_id(code), TicketTier)
