"""The ``BookingLedger`` application: create tiers, book, hold, cancel, and read aggregates.

Every command follows the same shape: get the aggregates, let the domain decide, then
``save`` everything the decision changed in *one* atomic recording. If another writer
recorded the tier's next version first, the store refuses the whole recording with an
``IntegrityError``; the command then reloads and decides again, a bounded number of
times with jittered back-off, and finally gives up with ``LedgerBusyError`` (nothing
recorded, never a silent loss).

Configuration comes from the application's environment: the constructor's ``env``,
then the OS environment, then ``BookingLedger.env`` below (the library's own order).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository
from eventsourcing.persistence import (
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    OperationalError,
    Recording,
)
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import Environment, EnvType, strtobool

from application.errors import (
    IdempotencyKeyReusedError,
    LedgerBusyError,
    TierAlreadyExistsError,
    TierNotFoundError,
    no_booking,
)
from application.booking.batch import BatchDecision
from application.booking.group_commit import GroupCommit, PendingBooking
from application.booking.idempotency import IdempotencySecretError, idempotency_secret
from application.booking.observer import LedgerObserver
from application.persistence.repository import CopyOnWriteRepository
from application.booking.turns import NoTurns, TierTurns
from application.persistence.storage import again_if_created_meanwhile, prepare_store
from domain.bookings import Booking, BookingSummary, idempotent_booking_id
from domain.errors import LedgerError
from domain.tiers import TicketTier, tier_id

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TierDetails:
    code: str
    price: Decimal
    capacity: int
    sold: int
    available: int
    held: int
    version: int
    on_sale: bool
    per_user_limit: int | None


@dataclass(frozen=True)
class BookingReceipt:
    booking_id: UUID
    tier: str
    quantity: int
    remaining: int
    status: str
    expires_at: datetime | None = None  # holds only


def key_reused() -> IdempotencyKeyReusedError:
    return IdempotencyKeyReusedError("This Idempotency-Key was used for a different booking request.")


class BookingLedger(Application):
    """The event-sourced write side: tiers and bookings, nothing else."""

    name = "BookingLedger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "var/ledger.sqlite3",
        # Seconds a statement waits for a pooled connection (the library's default: 30).
        # While PostgreSQL is down there is none to be had, so this, times the tries of
        # a statement (application/persistence/storage.py), is how long a request takes to learn
        # it. Under load a connection comes in milliseconds (one per batch of bookings),
        # so waiting longer than this means the pool is overloaded: 503 is right then too.
        "POSTGRES_CONNECT_TIMEOUT": "1",
        # Hot tiers stay in memory; every get reads only the events other processes
        # recorded since (the library's fast-forward), so a decision is never based on
        # stale state. Deciding on the cache without that read was measured too: the
        # process that lost a race always arrived late again and starved (p99 > 1 s).
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "BOOKING_MAX_ATTEMPTS": "40",
        "BOOKING_BACKOFF_CAP_MS": "50",
        "BOOKING_BATCH_MAX": "200",
        "BOOKING_MAX_WAIT_MS": "5000",
        "HOLD_SECONDS": "600",  # how long a hold keeps its tickets out of sale
    }
    # A snapshot every 500 tier events: a process that has not cached a tier yet loads
    # the latest snapshot and at most 499 events, however long the tier's history is.
    snapshotting_intervals: ClassVar[dict[type, int]] = {TicketTier: 500}

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)  # ``self.env`` has every key of the class's ``env`` above
        self.observer = LedgerObserver()
        # What time it is, for holds: tests replace it to move time on.
        self.clock: Callable[[], datetime] = utc_now
        self._hold_for = timedelta(seconds=float(self.env.get("HOLD_SECONDS")))
        self._max_attempts = int(self.env.get("BOOKING_MAX_ATTEMPTS"))
        self._backoff_cap = int(self.env.get("BOOKING_BACKOFF_CAP_MS")) / 1000
        self._group_commit = GroupCommit(
            self._commit_batch,
            max_batch=int(self.env.get("BOOKING_BATCH_MAX")),
            max_wait=int(self.env.get("BOOKING_MAX_WAIT_MS")) / 1000,
            unavailable=(OperationalError, InterfaceError),
        )
        datastore = getattr(self.factory, "datastore", None)
        self._turns = TierTurns(datastore) if isinstance(datastore, PostgresDatastore) else NoTurns()
        try:
            self._idempotency_secret = idempotency_secret(self.env.get("IDEMPOTENCY_SECRET"), self.factory)
        except IdempotencySecretError:
            self.close()  # this process does not start: let go of the store
            raise

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        prepare_store(env)
        return super().construct_factory(env)

    def construct_repository(self) -> Repository:
        """The library's repository, with its cache made copy-on-write
        (``application.persistence.repository``), always fast-forwarded, and always copied for the
        caller: the ledger changes the aggregates it gets."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return CopyOnWriteRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward_skipping=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")),
        )

    def construct_snapshot_store(self) -> EventStore:
        # The library's snapshot table has no lock of ours around its creation.
        return again_if_created_meanwhile(super().construct_snapshot_store)

    # Commands.

    def create_tier(self, code: str, price: Decimal, capacity: int, per_user_limit: int | None = None) -> TierDetails:
        """Create a tier; raise ``TierAlreadyExistsError`` if the code is taken."""
        tier = TicketTier.open(code, price, capacity, per_user_limit)
        try:
            self.save(tier)
        except IntegrityError:
            raise TierAlreadyExistsError(f"Tier {code!r} exists already.") from None
        return self._tier_details(tier)

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
            return self._tier_details(tier)

        return self._retrying(attempt)

    def book(self, user_id: str, tier_code: str, quantity: int, idempotency_key: str | None = None) -> BookingReceipt:
        """Sell tickets to a user: the tier's sale and the new booking in one recording,
        shared with whatever other bookings this process has in flight.

        With an ``idempotency_key`` the booking's id is derived from user and key (and
        the server's secret): the same request again returns the same booking (with the tier's availability now)
        and books nothing more; the same key with another request is refused."""
        return self._submit(PendingBooking(user_id, tier_code, quantity), idempotency_key)

    def hold(self, user_id: str, tier_code: str, quantity: int, idempotency_key: str | None = None) -> BookingReceipt:
        """Set tickets aside for the user until ``HOLD_SECONDS`` from now: a booking in
        status ``held``, to be confirmed, released, or expired by the hold-expiry
        process. Batched and idempotent exactly like ``book``."""
        expires_at = self.clock() + self._hold_for
        return self._submit(PendingBooking(user_id, tier_code, quantity, expires_at=expires_at), idempotency_key)

    def _submit(self, pending: PendingBooking, idempotency_key: str | None) -> BookingReceipt:
        if idempotency_key is not None:
            pending.booking_id = self.idempotent_id(pending.user_id, idempotency_key)
            pending.replayable = True
        return self._group_commit.submit(pending)

    def idempotent_id(self, user_id: str, idempotency_key: str) -> UUID:
        """The id of the user's booking or hold made with this key (see ``application.booking.idempotency``)."""
        return idempotent_booking_id(self._idempotency_secret, user_id, idempotency_key)

    def _commit_batch(self, batch: list[PendingBooking]) -> None:
        """Decide the batch (``_decide``) and save the changed tiers and every accepted
        booking in one recording. On a conflict, the batch is decided again against the
        tiers as they are now, unless an earlier decision of it turns out to be stored
        after all (its commit went through but the answer was lost, and the library's
        retry of it was refused as a conflict): then that decision's answers are true.
        Whether a decision is stored is checked on what only it could have written, its
        own tier events, never on a booking id that another process may also record."""
        tried: list[BatchDecision] = []  # decisions whose recording was attempted

        def stored() -> BatchDecision | None:
            return next((decision for decision in tried if decision.is_stored_in(self.events)), None)

        def attempt() -> BatchDecision:
            decision = stored() or self._decide(batch)
            if decision.bookings and decision not in tried:
                tried.append(decision)
                self.save(*decision.tiers, *decision.bookings)
            return decision

        self.observer.batch(len(batch))
        with self._turns.of(pending.tier for pending in batch):
            try:
                decision = self._retrying(attempt)
            except LedgerBusyError as error:
                decision = stored() or BatchDecision.refused(len(batch), error)
        for booking in decision.bookings:
            (self.observer.held if booking.expires_at else self.observer.booked)(booking.tier, booking.quantity)
        for pending, outcome in zip(batch, decision.outcomes, strict=True):
            pending.outcome = outcome

    def _decide(self, batch: list[PendingBooking]) -> BatchDecision:
        """Apply each request to its tier in turn, each tier read once. A refused request
        (no such tier, not enough left) gets its own error; the others still go through.
        A request whose key an earlier request of the batch used gets that one's answer."""
        tiers: dict[str, TicketTier | None] = {}  # None: no such tier
        bookings: list[Booking] = []
        outcomes: list[BookingReceipt | LedgerError] = []
        firsts: dict[UUID, int] = {}  # booking id -> index of its first request in the batch
        for index, pending in enumerate(batch):
            first = firsts.setdefault(pending.booking_id, index)
            if first != index:
                outcomes.append(self._twin(pending, batch[first], outcomes[first]))
            elif pending.replayable and pending.booking_id in self.repository:
                outcomes.append(self._existing(pending))
            else:
                if pending.tier not in tiers:
                    tiers[pending.tier] = self._find_tier(pending.tier)
                outcomes.append(self._decide_one(tiers[pending.tier], pending, bookings))
        changed = [tier for tier in tiers.values() if tier is not None and tier.pending_events]
        return BatchDecision(outcomes, changed, bookings)

    def _decide_one(
        self, tier: TicketTier | None, pending: PendingBooking, bookings: list[Booking]
    ) -> BookingReceipt | LedgerError:
        """The answer to one request: a receipt (its booking added to ``bookings``) or why not."""
        if tier is None:
            return TierNotFoundError(f"No tier {pending.tier!r}.")
        try:
            booking = self._take(tier, pending)
        except LedgerError as refused:
            return refused
        bookings.append(booking)
        return BookingReceipt(
            pending.booking_id, tier.code, pending.quantity, tier.available, booking.status, pending.expires_at
        )

    @staticmethod
    def _take(tier: TicketTier, pending: PendingBooking) -> Booking:
        """Sell or hold the tickets on the tier, or raise; return the new booking."""
        if pending.expires_at is None:
            tier.book(pending.booking_id, pending.user_id, pending.quantity)
            return Booking.confirm(pending.booking_id, pending.user_id, tier.code, pending.quantity)
        tier.hold(pending.booking_id, pending.user_id, pending.quantity, pending.expires_at)
        return Booking.hold(pending.booking_id, pending.user_id, tier.code, pending.quantity, pending.expires_at)

    def _existing(self, pending: PendingBooking) -> BookingReceipt | LedgerError:
        """A retried request: the booking its key made before (as it is now), if it
        asks for the same."""
        booking = self._get_booking(pending.booking_id)
        made = (booking.user_id, booking.tier, booking.quantity, booking.expires_at is not None)
        if made != pending.asks_for():
            return key_reused()
        available = self._get_tier(booking.tier).available
        return BookingReceipt(booking.id, booking.tier, booking.quantity, available, booking.status, booking.expires_at)

    @staticmethod
    def _twin(
        pending: PendingBooking, first: PendingBooking, outcome: BookingReceipt | LedgerError
    ) -> BookingReceipt | LedgerError:
        """A request sent twice at once: the first one's outcome, if it asks for the same."""
        if first.asks_for() != pending.asks_for():
            return key_reused()
        return outcome

    def cancel(self, booking_id: UUID, user_id: str, idempotency_key: str | None = None) -> BookingSummary:
        """Cancel a user's booking and release its tickets, in one recording. A retry
        with the cancellation's ``idempotency_key`` gets the cancelled booking again."""
        return self._end_booking(
            booking_id,
            lambda booking: booking.cancel(user_id, idempotency_key),
            lambda tier, booking: tier.release(booking.id, booking.quantity, booking.user_id),
            owner=user_id,
        )

    def confirm_hold(self, booking_id: UUID, user_id: str) -> BookingSummary:
        """Sell the user's active hold: the booking becomes ``confirmed``."""
        return self._end_booking(
            booking_id,
            lambda booking: booking.confirm_hold(user_id, self.clock()),
            lambda tier, booking: tier.confirm_hold(booking.id, booking.quantity),
            lambda booking: self.observer.booked(booking.tier, booking.quantity),
            owner=user_id,
        )

    def release_hold(self, booking_id: UUID, user_id: str) -> BookingSummary:
        """Give the user's active hold up: its tickets go back on sale."""
        return self._end_booking(
            booking_id, lambda booking: booking.release_hold(user_id, self.clock()), give_back, self._hold_ended,
            owner=user_id,
        )

    def expire_hold(self, booking_id: UUID) -> BookingSummary:
        """Expire a hold whose time has come; raises ``HoldNotActiveError`` if it was
        confirmed or released first (the version check decides which came first)."""
        return self._end_booking(booking_id, lambda booking: booking.expire(self.clock()), give_back, self._hold_ended)

    def _hold_ended(self, booking: Booking) -> None:
        self.observer.hold_ended(booking.tier, booking.status)

    def _end_booking(
        self,
        booking_id: UUID,
        change: Callable[[Booking], None],
        change_tier: Callable[[TicketTier, Booking], None],
        recorded: Callable[[Booking], None] | None = None,
        owner: str | None = None,
    ) -> BookingSummary:
        """Change a booking's status and its tier's counts in one recording, then tell
        ``recorded``. A change that was recorded already (a retried request) records
        nothing more. A booking that is not ``owner``'s is not found, exactly as an
        unknown one: refused at the first read, before anything else is read or said.

        The tier is read *before* the booking it decides on (the first read only finds
        the tier's code): both are always saved together, so the booking is then at
        least as recent as the tier, and a tier that is older fails the version check.
        Read the other way round, a confirm could meet a tier that an expiry had just
        changed, beside the booking from before it (found by a race test on PostgreSQL).
        """

        def attempt() -> BookingSummary:
            tier = self._get_tier(self._get_booking(booking_id, owner).tier)
            booking = self._get_booking(booking_id)
            status = booking.status
            change(booking)
            if booking.status != status:
                change_tier(tier, booking)
                self.save(tier, booking)
                if recorded:
                    recorded(booking)
            return booking.summary()

        return self._retrying(attempt)

    # Queries of the current aggregate state (strongly consistent).

    def get_tier(self, code: str) -> TierDetails:
        return self._tier_details(self._get_tier(code))

    def get_booking(self, booking_id: UUID) -> BookingSummary:
        return self._get_booking(booking_id).summary()

    # Helpers.

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it records without an optimistic-concurrency conflict."""
        for n in range(self._max_attempts):
            try:
                return attempt()
            except IntegrityError:
                self.observer.conflict()
                # The winner has committed, so retry at once: sleeping would only let
                # it win again (measured: p99 541 ms at 16 connections). Only a run of
                # losses, a sign of many writers, backs off with "full jitter".
                if n >= 3:
                    time.sleep(random.uniform(0, min(self._backoff_cap, 0.001 * 2 ** (n - 3))))
        raise LedgerBusyError(f"Gave up after {self._max_attempts} conflicting attempts; retry later.")

    def _record(self, processing_event: ProcessingEvent) -> list[Recording]:
        """Also cache what was just saved, so the next get need not read back this
        process's own events (the library caches on save only without fast-forward).
        Safe because the cache is copy-on-write and the ledger never changes an
        aggregate after saving it."""
        recordings = super()._record(processing_event)
        if self.repository.cache is not None:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent) -> None:
        """Snapshot each saved aggregate whose recording crossed a multiple of its interval,
        as it is now. The library would snapshot it at the crossing version, which it
        first rebuilds from the store (the last snapshot and up to 499 events): 3 % of a
        worker's CPU on a hot tier. The ledger has the aggregate in hand, just recorded,
        and never changes it afterwards, so a snapshot of it is as true and costs one write."""
        due = {
            event.originator_id for event in processing_event.events
            if (interval := self.snapshotting_intervals.get(type(processing_event.aggregates.get(event.originator_id))))
            and event.originator_version % interval == 0
        }
        for aggregate_id in due:
            aggregate = processing_event.aggregates[aggregate_id]
            snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
            self.snapshots.put([snapshot_class.take(aggregate)])

    def _get_tier(self, code: str) -> TicketTier:
        tier = self._find_tier(code)
        if tier is None:
            raise TierNotFoundError(f"No tier {code!r}.")
        return tier

    def _find_tier(self, code: str) -> TicketTier | None:
        try:
            return self.repository.get(tier_id(code))
        except AggregateNotFoundError:
            return None

    def _get_booking(self, booking_id: UUID, owner: str | None = None) -> Booking:
        """The booking, if it exists (and, given an ``owner``, is theirs)."""
        try:
            booking = self.repository.get(booking_id)
        except AggregateNotFoundError:
            booking = None
        if not isinstance(booking, Booking):  # e.g. a tier's id passed as a booking id
            raise no_booking(booking_id)
        if owner is not None and not booking.belongs_to(owner):
            raise no_booking(booking_id)
        return booking

    @staticmethod
    def _tier_details(tier: TicketTier) -> TierDetails:
        return TierDetails(
            tier.code, tier.price, tier.capacity, tier.sold, tier.available, tier.held, tier.version, tier.on_sale, tier.per_user_limit
        )



def give_back(tier: TicketTier, booking: Booking) -> None:
    """A released or expired hold's tickets go back on sale."""
    tier.release_hold(booking.id, booking.user_id, booking.quantity, reason=booking.status)
