"""The ledger's aggregates in its store, as its use cases read and save them."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore

from application.errors import TierNotFoundError, no_booking
from application.persistence.application import StoreApplication
from domain.bookings import Booking, offered_holds
from domain.orders import Order
from domain.tiers import TicketTier, tier_id

A = TypeVar("A", bound=Aggregate)


class LedgerAggregates:
    """Tiers, bookings and orders, each read as it is now (a fresh copy, to change), and
    saved together in one recording (with the holds of the tiers' waiting-list offers),
    which the store refuses if another writer recorded one of them first (``IntegrityError``)."""

    def __init__(self, store: StoreApplication) -> None:
        self._store = store

    def find_tier(self, code: str) -> TicketTier | None:
        return self._store.aggregate(tier_id(code), TicketTier)

    def tier(self, code: str) -> TicketTier:
        tier = self.find_tier(code)
        if tier is None:
            raise TierNotFoundError(f"No tier {code!r}.")
        return tier

    def find_booking(self, booking_id: UUID) -> Booking | None:
        return self._store.aggregate(booking_id, Booking)  # not a tier's id given as a booking's

    def booking(self, booking_id: UUID, owner: str | None = None) -> Booking:
        """The booking, if it exists (and, given an ``owner``, is theirs): a stranger's is
        not found, exactly as an unknown one."""
        booking = self.find_booking(booking_id)
        if booking is None or (owner is not None and not booking.belongs_to(owner)):
            raise no_booking(booking_id)
        return booking

    def find_order(self, order_id: UUID) -> Order | None:
        return self._store.aggregate(order_id, Order)

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """Any other aggregate of the ledger's store (a payment, a bank credit), as it is now."""
        return self._store.aggregate(aggregate_id, kind)

    def named_by(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate as this process last had it (its cached copy, not brought up to
        date), else as it is now: only for what never changes once it exists (which booking
        and tier a payment is for, a booking's tier). A webhook's payment, or a hold due,
        names its tier without a round trip."""
        cache = self._store.repository.cache
        with suppress(KeyError):
            cached = cache.get(aggregate_id) if cache is not None else None
            if isinstance(cached, kind):
                return cached
        return self.find(aggregate_id, kind)

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._store.repository

    def cached_versions(self, codes: Iterable[str], others: Iterable[UUID] = ()) -> dict[UUID, int]:
        """The version of each of these tiers that this process holds in its cache, and of
        ``others`` (a payment's booking, a hold due) only when it holds every tier: what is
        read ahead is read in one snapshot, and a tier read after it would be newer than the
        booking beside it. A hold confirmed meanwhile by another process then showed as a
        hold on a tier that no longer held it (found by the confirm-against-expiry race
        test on PostgreSQL). Read after its tier, a booking is at least as recent as it."""
        cache = self._store.repository.cache
        if cache is None:
            return {}
        tiers, versions = set(map(tier_id, codes)), {}
        for id_ in tiers:
            with suppress(KeyError):
                versions[id_] = cache.get(id_).version
        if len(versions) < len(tiers):
            return versions
        for id_ in others:
            with suppress(KeyError):
                versions[id_] = cache.get(id_).version
        return versions

    def save(self, *aggregates: Aggregate) -> None:
        """Record ``aggregates`` and, with a tier that offers tickets to its waiting list, the
        offers' holds: whichever command gave the tickets back, never one without the other."""
        holds = [hold for tier in aggregates if isinstance(tier, TicketTier) for hold in offered_holds(tier)]
        self._store.save(*aggregates, *holds)

    @property
    def events(self) -> EventStore[UUID]:
        """The store's events, as recorded."""
        return self._store.events
