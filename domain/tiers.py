"""The ticket tier: one event-sourced aggregate per tier of a sale.

The tier's version number is the concurrency guard. Every booking appends an event at
the next version; two writers that read the same version cannot both record, so the
second one reloads and decides again. That is what stops overselling, with no lock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    AlreadyWaitingError,
    InsufficientTicketsError,
    InvalidQuantityError,
    InvalidTierError,
    NotWaitingError,
    PaymentRequiredError,
    PriceChangeRefusedError,
    RefundRequiredError,
    SalesClosedError,
    SalesNotOpenError,
    TierNotSoldOutError,
    UserLimitExceededError,
)
from domain.payments import PaymentTerms
from domain.waiting_list import (
    DEFAULT_OFFER_SECONDS,
    MAX_OFFER_SECONDS,
    MIN_OFFER_SECONDS,
    Entry,
    Offer,
    Place,
    offer_booking_id,
    place_of,
)

TIER_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
CENT = Decimal("0.01")
# Bounds that keep every figure inside the read tables' column types (NUMERIC(12, 2),
# INTEGER): an event the projection could not store would stop it for good.
MAX_PRICE = Decimal("9999999999.99")
MAX_CAPACITY = 1_000_000_000


def tier_id(code: str) -> UUID:
    """The tier's stable id, derived from its code, so no lookup table is needed."""
    return uuid5(NAMESPACE_URL, f"tier:{code}")


def check_price(price: Decimal) -> None:
    """Raise unless ``price`` is a Decimal from 0 to ``MAX_PRICE`` in whole cents (a tier's
    price as it is created and as it is changed)."""
    if not isinstance(price, Decimal) or not 0 <= price <= MAX_PRICE or price != price.quantize(CENT):
        raise InvalidTierError(f"Price must be a Decimal from 0 to {MAX_PRICE} in whole cents, got {price!r}.")


def check_quantity(quantity: int) -> None:
    """Raise unless ``quantity`` is a whole number of at least one (bools excluded)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantityError(f"Quantity must be a whole number ≥ 1, got {quantity!r}.")


class TicketTier(Aggregate):
    """A priced tier with a capacity; sells tickets while any are available.

    Tickets are either sold or *held*: set aside for a hold (a booking in status
    ``held``, see ``domain.bookings``) until it is confirmed (then sold) or released or
    expired (then available again). Invariants: ``0 <= sold + held <= capacity``; every
    quantity is at least one; with a per-user limit, no user has more tickets sold to or
    held for them than the limit; nothing is sold or held once closed (a hold granted
    before may still be confirmed). Fields added after the first release
    (``per_user_limit``, ``user_id`` of a release, ``held``, the waiting list's) are optional
    or default, so streams and snapshots recorded before them still load.

    Its waiting list (``domain.waiting_list``): ``waiting`` in order, open ``offers`` (holds),
    and ``kept``, the tickets given back and kept for the list (counted in ``held``, so
    never available to the public while anyone waits). Invariants: someone waits ⇒ nothing
    is available; ``kept`` is never enough for the first in line while sales are open
    (they would have been offered); a per-user limit counts the tickets a buyer waits for.
    """

    held = 0  # class default: snapshots taken before holds existed have no ``held``
    sale_opens: datetime | None = None  # class defaults: tiers recorded before events had windows
    sale_closes: datetime | None = None
    payment: dict[str, Any] | None = None  # class default: tiers recorded before payments are free
    offer_seconds: int | None = None  # class defaults: tiers recorded before waiting lists
    waiting: Sequence[Entry] = ()
    offers: Sequence[Offer] = ()
    kept = 0

    class Created(Aggregate.Created):
        code: str
        price: Decimal
        capacity: int
        per_user_limit: int | None
        sale_opens: datetime | None = None  # an event's sale window (``domain.shows``)
        sale_closes: datetime | None = None
        payment: dict[str, Any] | None = None  # its event's ``PaymentTerms``, if its sale takes money
        actor: str | None = None  # who created it (``domain.staff``); None before staff accounts
        offer_seconds: int | None = None  # its event's time to accept a waiting-list offer, if set

    class TicketsBooked(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int

    class TicketsReleased(Aggregate.Event):
        booking_id: UUID
        quantity: int
        user_id: str | None

    class TicketsHeld(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int
        expires_at: datetime

    class HoldConfirmed(Aggregate.Event):
        booking_id: UUID
        quantity: int

    class HoldReleased(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int
        reason: str  # "released" by the user or "expired"

    class CapacityAdded(Aggregate.Event):
        quantity: int
        actor: str | None = None  # who added it; None before staff accounts

    class SalesClosed(Aggregate.Event):
        actor: str | None = None

    class PriceChanged(Aggregate.Event):
        """The tier sells at ``new_price`` from here on; what was sold or held before keeps
        ``old_price``."""

        old_price: Decimal
        new_price: Decimal
        actor: str | None = None  # who changed it (``domain.staff``)

    class JoinedWaitingList(Aggregate.Event):
        entry_id: UUID
        user_id: str
        quantity: int

    class LeftWaitingList(Aggregate.Event):
        entry_id: UUID
        user_id: str
        quantity: int

    class TicketsKeptForWaitingList(Aggregate.Event):
        """Tickets given back while someone waits: held for the list, not put on sale."""

        quantity: int

    class TicketsBackOnSale(Aggregate.Event):
        """Tickets kept for the list, put on sale when nobody waits any more."""

        quantity: int

    class OfferMade(Aggregate.Event):
        """The first in line is offered the tickets kept for them: the hold ``booking_id``."""

        entry_id: UUID
        booking_id: UUID
        user_id: str
        quantity: int
        expires_at: datetime

    class OfferEnded(Aggregate.Event):
        """An offer's hold ended (recorded right after the tier's ``HoldConfirmed`` or
        ``HoldReleased`` of it, in the same recording)."""

        entry_id: UUID
        booking_id: UUID
        user_id: str
        quantity: int

    class OfferAccepted(OfferEnded):
        pass

    class OfferDeclined(OfferEnded):
        pass

    class OfferLapsed(OfferEnded):
        pass

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return tier_id(code)

    @classmethod
    def open(
        cls,
        code: str,
        price: Decimal,
        capacity: int,
        per_user_limit: int | None = None,
        sale_opens: datetime | None = None,
        sale_closes: datetime | None = None,
        payment: PaymentTerms | None = None,
        actor: str | None = None,
        offer_seconds: int | None = None,
    ) -> TicketTier:
        """Check the tier's terms, then create it (the ``Created`` event). A tier of a
        paid event with a price above zero takes ``payment``; a free one never does."""
        if not TIER_CODE.fullmatch(code):
            raise InvalidTierError(f"Tier code must match {TIER_CODE.pattern}, got {code!r}.")
        check_price(price)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
            raise InvalidTierError(f"Capacity must be a whole number from 0 to {MAX_CAPACITY:,}, got {capacity!r}.")
        if per_user_limit is not None:
            check_quantity(per_user_limit)
        # Only what is set is recorded, so a tier's event is as it was before windows,
        # payments and actors.
        extra: dict[str, Any] = (
            {"sale_opens": sale_opens, "sale_closes": sale_closes} if sale_opens or sale_closes else {}
        )
        if payment is not None and price > 0:
            payment.minor_units(price)  # the price must be whole minor units of the currency
            extra["payment"] = payment.as_stored()
        if actor:
            extra["actor"] = actor
        if offer_seconds is not None:
            check_offer_seconds(offer_seconds)
            extra["offer_seconds"] = offer_seconds
        return cls(code=code, price=price, capacity=capacity, per_user_limit=per_user_limit, **extra)

    @event(Created)
    def __init__(
        self,
        code: str,
        price: Decimal,
        capacity: int,
        per_user_limit: int | None = None,
        sale_opens: datetime | None = None,
        sale_closes: datetime | None = None,
        payment: dict[str, Any] | None = None,
        actor: str | None = None,
        offer_seconds: int | None = None,
    ) -> None:
        self.code = code
        self.offer_seconds = offer_seconds
        self.payment = payment  # as recorded: a snapshot holds plain values
        self.sale_opens = sale_opens
        self.sale_closes = sale_closes
        self.price = price
        self.capacity = capacity
        self.sold = 0
        self.per_user_limit = per_user_limit
        self.sold_to: dict[str, int] = {}  # sold or held, per user; only with a per-user limit
        self.on_sale = True

    @property
    def payment_terms(self) -> PaymentTerms | None:
        """How this tier's sale takes money; None: it is free, booked outright."""
        return PaymentTerms.stored(self.payment)

    @property
    def available(self) -> int:
        return self.capacity - self.sold - self.held

    def book(self, booking_id: UUID, user_id: str, quantity: int, now: datetime | None = None) -> None:
        """Sell ``quantity`` tickets to a booking, or raise and record nothing (at ``now``,
        inside the tier's sale window, if it has one); a tier that takes payment never
        sells outright."""
        self.check_can_take(user_id, quantity, now, outright=True)
        self._book(booking_id=booking_id, user_id=user_id, quantity=quantity)

    def hold(
        self, booking_id: UUID, user_id: str, quantity: int, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Set ``quantity`` tickets aside for a hold until ``expires_at``, on the same
        terms as a sale, or raise and record nothing."""
        self.check_can_take(user_id, quantity, now)
        self._hold(booking_id=booking_id, user_id=user_id, quantity=quantity, expires_at=expires_at)

    def check_can_take(self, user_id: str, quantity: int, now: datetime | None = None, outright: bool = False) -> None:
        """Raise unless ``quantity`` tickets could be sold (``outright``) or held for the
        user at ``now`` (an order checks every tier before it sells from any)."""
        check_quantity(quantity)
        if outright and self.payment_terms is not None:
            raise PaymentRequiredError(f"Tier {self.code} is sold through a payment, not booked outright.")
        self._check_selling(now)
        if quantity > self.available:
            raise InsufficientTicketsError(self.code, quantity, self.available)
        self._check_limit(user_id, quantity)

    def _check_selling(self, now: datetime | None) -> None:
        if not self._selling(now):
            raise SalesClosedError(f"Sales of tier {self.code} are closed.")
        if now is not None and self.sale_opens is not None and now < self.sale_opens:
            raise SalesNotOpenError(f"Sales of tier {self.code} open at {self.sale_opens.isoformat()}.")

    def _selling(self, now: datetime | None) -> bool:
        """Whether sales are open (as far as ``now`` tells: without it, only closing counts)."""
        return self.on_sale and not (now is not None and self.sale_closes is not None and now >= self.sale_closes)

    def _check_limit(self, user_id: str, quantity: int) -> None:
        taken = self.sold_to.get(user_id, 0)
        if self.per_user_limit is not None and taken + quantity > self.per_user_limit:
            raise UserLimitExceededError(
                f"Tier {self.code} sells at most {self.per_user_limit} ticket(s) per user; {user_id} has {taken}."
            )

    @event(TicketsBooked)
    def _book(self, booking_id: UUID, user_id: str, quantity: int) -> None:
        self.sold += quantity
        self._count_for(user_id, quantity)

    @event(TicketsHeld)
    def _hold(self, booking_id: UUID, user_id: str, quantity: int, expires_at: datetime) -> None:
        self.held += quantity
        self._count_for(user_id, quantity)

    def _count_for(self, user_id: str | None, quantity: int) -> None:
        if self.per_user_limit is not None and user_id is not None:
            self.sold_to[user_id] = self.sold_to.get(user_id, 0) + quantity

    def confirm_hold(self, booking_id: UUID, quantity: int, paid: bool = False) -> None:
        """Sell a hold's tickets (the booking checks that the hold is still active); on a
        tier that takes payment, only in the recording that receives it (``paid``)."""
        if self.payment_terms is not None and not paid:
            raise PaymentRequiredError(f"Hold {booking_id} on tier {self.code} is confirmed by its payment.")
        self._check_held(quantity)
        self._confirm_hold(booking_id=booking_id, quantity=quantity)
        self._end_offer(self._offer_accepted, booking_id)

    @event(HoldConfirmed)
    def _confirm_hold(self, booking_id: UUID, quantity: int) -> None:
        self.held -= quantity
        self.sold += quantity

    def release_hold(
        self, booking_id: UUID, user_id: str, quantity: int, reason: str, now: datetime | None = None
    ) -> None:
        """Put a released or expired hold's tickets back on sale, or, while anyone waits,
        offer them to the list (at ``now``: see ``serve_waiting_list``)."""
        self._check_held(quantity)
        self._release_hold(booking_id=booking_id, user_id=user_id, quantity=quantity, reason=reason)
        self._end_offer(self._offer_lapsed if reason == "expired" else self._offer_declined, booking_id)
        self.serve_waiting_list(now)

    @event(HoldReleased)
    def _release_hold(self, booking_id: UUID, user_id: str, quantity: int, reason: str) -> None:
        self.held -= quantity
        self._count_for(user_id, -quantity)

    def _check_held(self, quantity: int) -> None:
        check_quantity(quantity)
        if quantity > self.held:
            raise InvalidQuantityError(f"Tier {self.code} holds {self.held} ticket(s), not {quantity}.")

    def release(
        self,
        booking_id: UUID,
        quantity: int,
        user_id: str | None = None,
        refund_decided: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Put a cancelled booking's tickets back on sale (or offer them to the waiting
        list, at ``now``); on a tier that takes payment, only in the recording that decides
        its refund (``refund_decided``)."""
        if self.payment_terms is not None and not refund_decided:
            raise RefundRequiredError(f"Booking {booking_id} was paid for: it is cancelled with its refund.")
        check_quantity(quantity)
        if quantity > self.sold:
            raise InvalidQuantityError(f"Cannot release {quantity} ticket(s): tier {self.code} has sold {self.sold}.")
        self._release(booking_id=booking_id, quantity=quantity, user_id=user_id)
        self.serve_waiting_list(now)

    @event(TicketsReleased)
    def _release(self, booking_id: UUID, quantity: int, user_id: str | None = None) -> None:
        self.sold -= quantity
        self._count_for(user_id, -quantity)

    def add_capacity(self, quantity: int, actor: str | None = None, now: datetime | None = None) -> None:
        """Put more tickets on sale (offered to the waiting list first, at ``now``)."""
        check_quantity(quantity)
        if self.capacity + quantity > MAX_CAPACITY:
            raise InvalidQuantityError(f"Capacity would exceed {MAX_CAPACITY:,}.")
        self._add_capacity(quantity=quantity, **({"actor": actor} if actor else {}))
        self.serve_waiting_list(now)

    @event(CapacityAdded)
    def _add_capacity(self, quantity: int, actor: str | None = None) -> None:
        self.capacity += quantity

    def change_price(self, price: Decimal, actor: str | None = None, now: datetime | None = None) -> None:
        """Sell from now on at ``price``, checked as ``open`` checks a price (and, on a tier
        that takes payment, in whole minor units of its currency). Bookings and holds made
        before keep what they were sold or held at: a paid hold's amount is its payment's,
        opened at the price it was held at (``application/booking/tiers.py`` opens the
        payments of offers still without one before the price changes).

        The same price again records nothing, so a change retried after a lost answer is
        harmless. Refused once sales are closed (at ``now``): nothing more is sold, and the
        price shown would be one nobody paid. Refused between free and priced, both ways: a
        free tier of a paid event carries no payment terms (only its priced tiers do), so
        priced it would sell at a price without taking money; a paid tier made free would
        sell for a payment of nothing (``Payment.open`` refuses an amount of 0)."""
        check_price(price)
        terms = self.payment_terms
        if terms is not None:
            terms.minor_units(price)  # raises unless whole minor units of the sale's currency
        if price == self.price:
            return
        if not self._selling(now):
            raise SalesClosedError(f"Sales of tier {self.code} are closed: its price stays {self.price}.")
        if (price == 0) != (self.price == 0):
            now_is = "free: it cannot be given a price" if self.price == 0 else "priced: it cannot be made free"
            raise PriceChangeRefusedError(f"Tier {self.code} is {now_is}; create a tier of its own for that.")
        self._change_price(old_price=self.price, new_price=price, **({"actor": actor} if actor else {}))

    @event(PriceChanged)
    def _change_price(self, old_price: Decimal, new_price: Decimal, actor: str | None = None) -> None:
        self.price = new_price

    def close_sales(self, actor: str | None = None) -> None:
        """Stop selling (cancellations still release tickets); closing twice changes nothing."""
        if self.on_sale:
            self._close_sales(**({"actor": actor} if actor else {}))

    @event(SalesClosed)
    def _close_sales(self, actor: str | None = None) -> None:
        self.on_sale = False

    # The waiting list (``domain.waiting_list``).

    @property
    def seconds_to_accept(self) -> int:
        """How long an offer stays open: its event's setting, else a paid tier's time to
        pay, else ``DEFAULT_OFFER_SECONDS``."""
        terms = self.payment_terms
        return self.offer_seconds or (terms.seconds_to_pay if terms else DEFAULT_OFFER_SECONDS)

    def place_of(self, user_id: str) -> Place | None:
        return place_of(self.code, user_id, self.waiting, self.offers)

    def join_waiting_list(self, entry_id: UUID, user_id: str, quantity: int, now: datetime | None = None) -> None:
        """Put the user at the end of the list for ``quantity`` tickets, which the tier
        cannot sell them now; the tickets still available are kept for the list from now on."""
        check_quantity(quantity)
        self._check_selling(now)
        if self.place_of(user_id) is not None:
            raise AlreadyWaitingError(f"{user_id} is on the waiting list of tier {self.code} already.")
        if not self.waiting and quantity <= self.available:
            raise TierNotSoldOutError(f"Tier {self.code} has {self.available} ticket(s) available: book them.")
        self._check_limit(user_id, quantity)
        self._join(entry_id=entry_id, user_id=user_id, quantity=quantity)
        self.serve_waiting_list(now)

    def leave_waiting_list(self, user_id: str, now: datetime | None = None) -> Entry:
        """Take the user's waiting place off the list (an offer is declined by releasing
        its hold); return it. The tickets kept go to the next in line, or back on sale."""
        entry = next((e for e in self.waiting if e["user_id"] == user_id), None)
        if entry is None:
            raise NotWaitingError(f"{user_id} is not waiting on the list of tier {self.code}.")
        self._leave(entry_id=UUID(entry["entry_id"]), user_id=user_id, quantity=entry["quantity"])
        self.serve_waiting_list(now)
        return entry

    def serve_waiting_list(self, now: datetime | None) -> None:
        """Keep every available ticket for the list while anyone waits; offer the first in
        line their tickets as soon as enough are kept (while sales are open, until ``now`` +
        ``seconds_to_accept``); put the kept tickets back on sale once nobody waits."""
        if self.waiting and self.available > 0:
            self._keep(quantity=self.available)
        while self.waiting and self.waiting[0]["quantity"] <= self.kept and self._selling(now):
            if now is None:  # an application's command always gives its time
                raise TypeError(f"Tier {self.code} offers tickets to its waiting list: the time is needed.")
            first = self.waiting[0]
            entry_id = UUID(first["entry_id"])
            expires_at = now + timedelta(seconds=self.seconds_to_accept)
            self._offer(
                entry_id=entry_id,
                booking_id=offer_booking_id(entry_id),
                user_id=first["user_id"],
                quantity=first["quantity"],
                expires_at=expires_at,
            )
        if not self.waiting and self.kept:  # the last in line was offered, or left
            self._back_on_sale(quantity=self.kept)

    def _end_offer(self, record: Any, booking_id: UUID) -> None:
        offer = next((offer for offer in self.offers if offer["booking_id"] == str(booking_id)), None)
        if offer is not None:
            record(entry_id=UUID(offer["entry_id"]), booking_id=booking_id, user_id=offer["user_id"],
                   quantity=offer["quantity"])  # fmt: skip

    @event(JoinedWaitingList)
    def _join(self, entry_id: UUID, user_id: str, quantity: int) -> None:
        self.waiting = [*self.waiting, {"entry_id": str(entry_id), "user_id": user_id, "quantity": quantity}]
        self._count_for(user_id, quantity)

    @event(LeftWaitingList)
    def _leave(self, entry_id: UUID, user_id: str, quantity: int) -> None:
        self.waiting = [entry for entry in self.waiting if entry["entry_id"] != str(entry_id)]
        self._count_for(user_id, -quantity)

    @event(TicketsKeptForWaitingList)
    def _keep(self, quantity: int) -> None:
        self.kept += quantity
        self.held += quantity

    @event(TicketsBackOnSale)
    def _back_on_sale(self, quantity: int) -> None:
        self.kept -= quantity
        self.held -= quantity

    @event(OfferMade)
    def _offer(self, entry_id: UUID, booking_id: UUID, user_id: str, quantity: int, expires_at: datetime) -> None:
        """The kept tickets become the offer's hold (still held); its place leaves the list."""
        self.kept -= quantity
        self.waiting = [entry for entry in self.waiting if entry["entry_id"] != str(entry_id)]
        offer = {"entry_id": str(entry_id), "booking_id": str(booking_id), "user_id": user_id, "quantity": quantity,
                 "expires_at": expires_at}  # fmt: skip
        self.offers = [*self.offers, offer]

    @event(OfferAccepted)
    def _offer_accepted(self, entry_id: UUID, booking_id: UUID, user_id: str, quantity: int) -> None:
        self._close_offer(booking_id)

    @event(OfferDeclined)
    def _offer_declined(self, entry_id: UUID, booking_id: UUID, user_id: str, quantity: int) -> None:
        self._close_offer(booking_id)

    @event(OfferLapsed)
    def _offer_lapsed(self, entry_id: UUID, booking_id: UUID, user_id: str, quantity: int) -> None:
        self._close_offer(booking_id)

    def _close_offer(self, booking_id: UUID) -> None:
        self.offers = [offer for offer in self.offers if offer["booking_id"] != str(booking_id)]


def check_offer_seconds(seconds: int) -> None:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_OFFER_SECONDS <= seconds <= MAX_OFFER_SECONDS
    ):
        raise InvalidTierError(f"An offer's time to accept is {MIN_OFFER_SECONDS} s to 30 days, got {seconds!r}.")
