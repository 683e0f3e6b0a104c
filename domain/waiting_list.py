"""A tier's waiting list: who waits for its tickets, in order, and the offers made to them.

The list lives inside the ``TicketTier`` aggregate (``domain.tiers``), so every rule of it is
decided under the tier's version check, the same guard that stops overselling:

- While anyone waits, every ticket that comes back (a hold released or expired, a booking
  cancelled or refunded, capacity added) is *kept for the list*: counted as held, so the
  public sees none available, in the very recording that gives it back. A public booking
  that raced it was decided on an older version and is refused by the store.
- The first in line is *offered* their tickets once enough are kept: a hold in their name
  (a ``Booking`` the application records beside the tier's ``OfferMade``), with its own time
  to accept. Strict order: a later buyer asking for fewer is not served first.
- An offer ends once: accepted (the hold confirmed, or paid), declined (released) or lapsed
  (expired by the hold-expiry process); its tickets then go to the next in line.

Entries and offers are kept as plain values (str, int, datetime) so snapshots of the tier
store and load them; they are replaced, never changed in place (cached copies share them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

# An offer's time to accept when its event sets none: a free tier's buyer has a day; a paid
# tier's has the event's time to pay (``TicketTier.seconds_to_accept``).
DEFAULT_OFFER_SECONDS = 24 * 3600
MIN_OFFER_SECONDS = 60
MAX_OFFER_SECONDS = 30 * 24 * 3600

Entry = Mapping[str, Any]  # {"entry_id": str, "user_id": str, "quantity": int}
Offer = Mapping[str, Any]  # an entry's, with "booking_id": str (its hold) and "expires_at": datetime


def offer_booking_id(entry_id: UUID) -> UUID:
    """The id of the hold an entry is offered: one per entry, so the store's uniqueness
    refuses a second offer of the same place."""
    return uuid5(NAMESPACE_URL, f"waiting-list-offer:{entry_id}")


@dataclass(frozen=True)
class Place:
    """A buyer's place on a tier's list: waiting (``position`` 1 is next), or offered
    (``offer``, the hold's id, and until when)."""

    tier: str
    entry_id: UUID
    user_id: str
    quantity: int
    position: int | None  # None once offered
    offer: UUID | None = None
    offer_expires_at: datetime | None = None

    @property
    def status(self) -> str:
        return "waiting" if self.offer is None else "offered"


def place_of(tier: str, user_id: str, waiting: Sequence[Entry], offers: Sequence[Offer]) -> Place | None:
    """``user_id``'s place on the list of ``tier`` (``waiting`` in order, then its open
    ``offers``), or None."""
    for position, entry in enumerate(waiting, start=1):
        if entry["user_id"] == user_id:
            return Place(tier, UUID(entry["entry_id"]), user_id, entry["quantity"], position)
    for offer in offers:
        if offer["user_id"] == user_id:
            return Place(
                tier, UUID(offer["entry_id"]), user_id, offer["quantity"], None, UUID(offer["booking_id"]),
                offer["expires_at"],
            )  # fmt: skip
    return None
