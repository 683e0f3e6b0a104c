"""Tier administration: the ledger's tiers and events (shows) created, given more capacity, a
new price, and closed. Each command decides on the tier and saves it, deciding again on a
conflict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.booking.aggregates import LedgerAggregates
from application.booking.receipts import TierDetails
from application.booking.retries import Retries
from application.errors import ShowAlreadyExistsError, TierAlreadyExistsError
from application.payments.opening import opened_payment
from application.payments.references import creditor_reference
from domain.payments import Payment, PaymentTerms, payment_id
from domain.shows import Show, show_id
from domain.tiers import TicketTier, tier_id

SYSTEM = "system"  # the actor of what the service does by itself (the demo's tiers)


@dataclass(frozen=True)
class NewTier:
    code: str
    price: Decimal
    capacity: int
    per_user_limit: int | None = None


@dataclass(frozen=True)
class NewShow:
    """An event to create, with its tiers."""

    code: str
    name: str
    tiers: list[NewTier]
    starts_at: datetime | None = None
    sale_opens: datetime | None = None
    sale_closes: datetime | None = None
    payment: PaymentTerms | None = None  # the sale takes money (docs/payments.md)
    offer_seconds: int | None = None  # a waiting-list offer's time to accept (``domain.waiting_list``)


class TierAdmin:
    """The tier commands of the ledger, on its aggregates, with its retries."""

    def __init__(self, aggregates: LedgerAggregates, retries: Retries, clock: Callable[[], datetime]) -> None:
        self.aggregates = aggregates
        self.retries = retries
        self.clock = clock  # the ledger's: more capacity is offered to a waiting list first

    def create_tier(
        self, code: str, price: Decimal, capacity: int, per_user_limit: int | None = None, actor: str | None = None
    ) -> TierDetails:
        """Create a tier; raise ``TierAlreadyExistsError`` if the code is taken."""
        tier = TicketTier.open(code, price, capacity, per_user_limit, actor=actor)
        try:
            self.aggregates.save(tier)
        except IntegrityError:
            raise TierAlreadyExistsError(f"Tier {code!r} exists already.") from None
        return TierDetails.of(tier)

    def ensure_tier(self, code: str, price: Decimal, capacity: int) -> bool:
        """Create the tier unless it exists; safe when several processes race.

        Returns whether this call created it. The tier's id is derived from its code,
        so a racing creator's ``save`` conflicts on version 1 and loses cleanly.
        """
        if self.aggregates.exists(tier_id(code)):
            return False
        try:
            self.create_tier(code, price, capacity, actor=SYSTEM)
        except TierAlreadyExistsError:
            return False
        return True

    def create_show(self, show: NewShow, actor: str | None = None, recorded_with: Sequence[Aggregate] = ()) -> Show:
        """Create an event and all its tiers, each with the event's sale window, in one
        recording: all of it, or (an id or a tier code taken) none; ``recorded_with`` is
        recorded in the same (who owns it: ``domain.organizers``)."""
        tiers = [
            TicketTier.open(
                t.code,
                t.price,
                t.capacity,
                t.per_user_limit,
                show.sale_opens,
                show.sale_closes,
                payment=show.payment,
                actor=actor,
                offer_seconds=show.offer_seconds,
            )
            for t in show.tiers
        ]
        created = Show.open(
            show.code,
            show.name,
            [t.code for t in tiers],
            show.starts_at,
            show.sale_opens,
            show.sale_closes,
            show.payment,
        )
        try:
            self.aggregates.save(created, *tiers, *recorded_with)
        except IntegrityError:
            if self.aggregates.exists(show_id(show.code)):
                raise ShowAlreadyExistsError(f"Event {show.code!r} exists already.") from None
            raise TierAlreadyExistsError("A tier of this event exists already: tier codes are unique.") from None
        return created

    def add_capacity(self, code: str, quantity: int, actor: str | None = None) -> TierDetails:
        return self._change_tier(code, lambda tier: tier.add_capacity(quantity, actor, self.clock()))

    def change_price(self, code: str, price: Decimal, actor: str | None = None) -> TierDetails:
        """Sell the tier at ``price`` from now on (``TicketTier.change_price``: the same price
        records nothing). A paid hold owes what its payment says, and a hold's payment is
        opened in the hold's own recording, at the price then; only a waiting list's offer
        has its payment opened later, the first time it is asked for, at the price then. So
        the offers still without one have it opened here, at the price they were offered
        at, in the price change's own recording: no hold ever owes a price it was not held at."""

        def command(tier: TicketTier) -> list[Payment]:
            owed = self._unopened_offer_payments(tier)
            tier.change_price(price, actor, self.clock())
            return owed if tier.pending_events else []

        return self._change_tier(code, command)

    def _unopened_offer_payments(self, tier: TicketTier) -> list[Payment]:
        """The payments of the paid tier's open offers that have none yet, at its price now."""
        if tier.payment_terms is None:
            return []
        offers = (UUID(offer["booking_id"]) for offer in tier.offers)
        unopened = [o for o in offers if not self.aggregates.exists(payment_id(creditor_reference(o)))]
        return [opened_payment(tier, self.aggregates.booking(offer)) for offer in unopened]

    def close_sales(self, code: str, actor: str | None = None) -> TierDetails:
        return self._change_tier(code, lambda tier: tier.close_sales(actor))

    def _change_tier(self, code: str, command: Callable[[TicketTier], Sequence[Aggregate] | None]) -> TierDetails:
        """Decide ``command`` on the tier as it is now and record the tier with whatever the
        command gives to record beside it, in one recording."""

        def attempt() -> TierDetails:
            tier = self.aggregates.tier(code)
            beside = command(tier) or ()
            self.aggregates.save(tier, *beside)
            return TierDetails.of(tier)

        return self.retries(attempt)
