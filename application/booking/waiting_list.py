"""The waiting list's use cases: join, leave, and a buyer's place, each decided on the tier
(``domain.waiting_list``) and saved with it, deciding again on a conflict.

An offer is a hold: it is accepted as any hold is (``BookingLedger.confirm_hold`` on a free
tier; its payment on a paid one, awaiting payment until its deadline), declined by releasing
it, and lapses by the hold-expiry process, which ends it at its deadline like any hold's.
Every command that gives tickets back offers them to the list in the same recording
(``LedgerAggregates.save`` records the offers' holds with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from application.booking.ledger import BookingLedger
from application.errors import IdempotencyKeyReusedError
from domain.errors import AlreadyWaitingError, NotWaitingError
from domain.waiting_list import Place, offer_booking_id

ID_SCOPE = "waiting-list"  # a join's key never names a booking's or an order's id


@dataclass(frozen=True)
class PlaceAnswer:
    """A buyer's place as the API answers it: ``status`` waiting, offered or left."""

    place: Place
    status: str
    waiting: int  # people waiting on the tier's list now (offers not counted)


class WaitingList:
    """The waiting lists of the ledger's tiers, with its clock, retries and write timeout."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger
        self.aggregates = ledger.aggregates

    def join(self, user_id: str, tier_code: str, quantity: int, idempotency_key: str | None = None) -> PlaceAnswer:
        """Put the user on the tier's list. With an ``idempotency_key`` the entry's id is
        derived from user and key: a retry gets the place as it is now; the same key with
        another quantity is refused."""
        entry_id = uuid4() if idempotency_key is None else self.ledger.idempotent_id(user_id, idempotency_key, ID_SCOPE)

        def attempt() -> PlaceAnswer:
            tier = self.aggregates.tier(tier_code)
            place = tier.place_of(user_id)
            if idempotency_key is not None and place is not None and place.entry_id == entry_id:
                if place.quantity != quantity:
                    raise IdempotencyKeyReusedError("This Idempotency-Key joined the list for another quantity.")
                return PlaceAnswer(place, place.status, len(tier.waiting))
            if idempotency_key is not None and place is None and self.aggregates.exists(offer_booking_id(entry_id)):
                raise AlreadyWaitingError("This Idempotency-Key's place was offered already; its offer has ended.")
            tier.join_waiting_list(entry_id, user_id, quantity, self.ledger.clock())
            self.aggregates.save(tier)
            joined = tier.place_of(user_id)
            assert joined is not None  # just recorded
            return PlaceAnswer(joined, joined.status, len(tier.waiting))

        with self.ledger.bounded():
            return self.ledger.retries(attempt)

    def leave(self, user_id: str, tier_code: str) -> PlaceAnswer:
        """Take the user's waiting place off the tier's list (an offer is declined by
        releasing its hold); the tickets kept for them go to the next in line."""

        def attempt() -> PlaceAnswer:
            tier = self.aggregates.tier(tier_code)
            entry = tier.leave_waiting_list(user_id, self.ledger.clock())
            self.aggregates.save(tier)
            left = Place(tier.code, UUID(entry["entry_id"]), user_id, entry["quantity"], position=None)
            return PlaceAnswer(left, "left", len(tier.waiting))

        with self.ledger.bounded():
            return self.ledger.retries(attempt)

    def place(self, user_id: str, tier_code: str) -> PlaceAnswer:
        """The user's place on the tier's list now: waiting (its position) or offered."""
        with self.ledger.bounded():
            tier = self.aggregates.tier(tier_code)
        place = tier.place_of(user_id)
        if place is None:
            raise NotWaitingError(f"{user_id} has no place on the waiting list of tier {tier_code}.")
        return PlaceAnswer(place, place.status, len(tier.waiting))
