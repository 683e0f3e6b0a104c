"""The queue ticket: what a buyer holds of their place, signed, so the place survives the
queue store losing it.

The ticket names the place, its user and its number once final (a pre-queue place's number
is drawn at the opening: until then its ticket carries its draw, the rank). It is signed
with HMAC (``itsdangerous``) under the key that signs passes, with a salt of its own, so a
ticket is never a pass nor a pass a ticket. A buyer who holds it can follow the room's
frontier (``GET /api/queue/frontier``, the same answer for everyone) and ask for their pass
only once the frontier has reached their number: the origin sees them twice.

Redis replicates asynchronously: a failover may lose the last joins and admissions. A
ticket the store no longer knows is put back at its number (``QueueStore.restore``), so no
buyer loses their place (docs/on-sale.md, "When Redis fails over").
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "ticket-ledger waiting room place"


@dataclass(frozen=True)
class PlaceTicket:
    place_id: str  # ``<room id>.<random>``: the store's key
    user_id: str
    number: int | None  # None: a pre-queue place before the opening (drawn then)
    rank: int  # the pre-queue's draw (0 for a place taken after the opening)


class TicketSigner:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def sign(self, ticket: PlaceTicket) -> str:
        return self._serializer.dumps([ticket.place_id, ticket.user_id, ticket.number, ticket.rank])

    def read(self, token: str) -> PlaceTicket | None:
        """The ticket, or ``None`` if the token is not one this service signed."""
        try:
            place_id, user_id, number, rank = self._serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        return PlaceTicket(place_id, user_id, number, rank)
