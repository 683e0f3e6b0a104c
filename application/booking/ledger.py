"""The ``BookingLedger`` application: book, hold, order, cancel, administer tiers
(``tiers.py``), and read aggregates.

Every command gets the aggregates, lets the domain decide, then ``save``s everything the
decision changed in *one* atomic recording. If another writer recorded the tier's next
version first, the store refuses it (``IntegrityError``) and the command decides again
(``retries.py``), finally giving up with ``LedgerBusyError``: never a silent loss.
Bookings, holds and orders join a group commit (``group_commit.py``), whose leader has
each batch decided and recorded (``batch_commit.py``, ``batch.py``).
Its settings: the constructor's ``env``, the OS environment, then ``BookingLedger.env``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import EnvType

from application.booking.aggregates import LedgerAggregates
from application.booking.batch import current_receipt
from application.booking.batch_commit import BatchCommit
from application.booking.expiring import PendingExpiry
from application.booking.group_commit import GroupCommit, Pending, PendingBooking, PendingOrder
from application.booking.idempotency import idempotency_secret
from application.booking.observer import LedgerObserver
from application.booking.paying import PendingPayment
from application.booking.receipts import BookingReceipt, OrderReceipt, TierDetails
from application.booking.retries import Retries
from application.booking.tiers import NewShow, TierAdmin
from application.booking.turns import NoTurns, TierTurns
from application.errors import IdempotencySecretError, OutcomeUnknownError, StoreTimeoutError, no_booking
from application.persistence.application import StoreApplication
from application.persistence.deadline import Deadline, arrived, store_deadline
from application.persistence.postgres import LockedDDLPostgresRecorder
from domain.bookings import Booking, BookingSummary, idempotent_booking_id
from domain.orders import check_items
from domain.payments import Match
from domain.shows import Show
from domain.tiers import TicketTier


def utc_now() -> datetime:
    return datetime.now(UTC)


class BookingLedger(StoreApplication):
    """The event-sourced write side: tiers and bookings, nothing else."""

    name = "BookingLedger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "var/ledger.sqlite3",
        # Seconds a statement waits for a pooled connection (the library's: 30), times its
        # tries, is how long a request takes to learn that PostgreSQL is down; under load a
        # connection comes in milliseconds, so a longer wait means overload: 503 then too.
        "POSTGRES_CONNECT_TIMEOUT": "1",
        # Hot tiers stay in memory, and every get reads the events other processes recorded
        # since (the library's fast-forward): deciding on the cache alone, the process that
        # lost a race would always arrive late again and starve.
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "BOOKING_MAX_ATTEMPTS": "40",
        "BOOKING_BACKOFF_CAP_MS": "50",
        "BOOKING_BATCH_MAX": "200",
        "BOOKING_MAX_WAIT_MS": "5000",
        "HOLD_SECONDS": "600",  # how long a hold keeps its tickets out of sale
        # How long PostgreSQL has to answer a request's store work (a batch: from its oldest
        # request's arrival) before the request gets 503 (``persistence/deadline.py``). A
        # commit takes milliseconds, tens at a far region's 50 ms round trips; a second is
        # trouble, and with it every request is answered within the 2 s of the availability
        # goal (docs/configuration.md).
        "POSTGRES_WRITE_TIMEOUT_MS": "1000",
    }
    # A snapshot every 500 tier events: a cold process loads it and at most 499 events.
    snapshotting_intervals: ClassVar[dict[type, int]] = {TicketTier: 500}

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)  # ``self.env`` has every key of the class's ``env`` above
        self._hold_for = timedelta(seconds=float(self.setting("HOLD_SECONDS")))
        self.write_timeout = int(self.setting("POSTGRES_WRITE_TIMEOUT_MS")) / 1000
        observer = LedgerObserver()
        self._aggregates = LedgerAggregates(self)
        self.retries = Retries(
            int(self.setting("BOOKING_MAX_ATTEMPTS")),
            int(self.setting("BOOKING_BACKOFF_CAP_MS")) / 1000,
            observer.conflict,
        )
        self._tier_admin = TierAdmin(self._aggregates, self.retries, lambda: self.clock())
        datastore = self.store.datastore
        recorder = self.recorder if isinstance(self.recorder, LockedDDLPostgresRecorder) else None
        turns = TierTurns(datastore, recorder) if isinstance(datastore, PostgresDatastore) else NoTurns()
        self._batch_commit = BatchCommit(self._aggregates, turns, self.retries, observer, utc_now, self.write_timeout)
        self._group_commit = GroupCommit(
            self._batch_commit,
            max_batch=int(self.setting("BOOKING_BATCH_MAX")),
            max_wait=int(self.setting("BOOKING_MAX_WAIT_MS")) / 1000,
            unavailable=(OperationalError, InterfaceError, StoreTimeoutError, OutcomeUnknownError),
        )
        try:
            # Shared by every process of the store: ids of idempotent bookings, ticket codes' keys.
            self.secret = idempotency_secret(self.env.get("IDEMPOTENCY_SECRET"), self.store)
        except IdempotencySecretError:
            self.close()  # this process does not start: let go of the store
            raise

    @property
    def observer(self) -> LedgerObserver:
        """What is told of the ledger's work: nothing by default; the web app plugs in its
        metrics. The batch commit and the retries report to it."""
        return self._batch_commit.observer

    @observer.setter
    def observer(self, observer: LedgerObserver) -> None:
        self._batch_commit.observer = observer
        self.retries.conflict = observer.conflict

    @property
    def aggregates(self) -> LedgerAggregates:
        """The ledger's aggregates, for the use cases beside it (payments) that decide on
        a tier, its booking and more in one recording."""
        return self._aggregates

    @property
    def clock(self) -> Callable[[], datetime]:
        """What time it is, for holds and sale windows: tests replace it to move time on."""
        return self._batch_commit.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._batch_commit.clock = clock

    # Commands.

    def book(self, user_id: str, tier_code: str, quantity: int, idempotency_key: str | None = None) -> BookingReceipt:
        """Sell tickets to a user: the tier's sale and the new booking in one recording,
        shared with whatever other bookings this process has in flight.

        With an ``idempotency_key`` the booking's id is derived from user and key (and
        the server's secret): the same request again returns the same booking (with the tier's availability now)
        and books nothing more; the same key with another request is refused."""
        receipt: BookingReceipt = self._submit(PendingBooking(user_id, tier_code, quantity), idempotency_key)
        return receipt

    def hold(self, user_id: str, tier_code: str, quantity: int, idempotency_key: str | None = None) -> BookingReceipt:
        """Set tickets aside for the user until ``HOLD_SECONDS`` from now (on a tier that
        takes payment, its time to pay: the batch decides it): a booking in status
        ``held``, to be confirmed, released, or expired by the hold-expiry
        process. Batched and idempotent exactly like ``book``."""
        expires_at = self.clock() + self._hold_for
        receipt: BookingReceipt = self._submit(
            PendingBooking(user_id, tier_code, quantity, expires_at=expires_at), idempotency_key
        )
        return receipt

    def order(self, user_id: str, items: list[tuple[str, int]], idempotency_key: str | None = None) -> OrderReceipt:
        """Sell several tiers to a user at once, all or nothing: every tier, a booking per
        tier and the order in one recording, batched and idempotent like ``book`` (an
        order's key and a booking's never name the same thing)."""
        check_items(items)
        receipt: OrderReceipt = self._submit(PendingOrder(user_id, tuple(items)), idempotency_key)
        return receipt

    def receive_payment(self, payment: PendingPayment) -> Match:
        """Money for a paid hold (``application/payments/desk.py`` decides what names it):
        what it is to its payment, decided and recorded in a batch with its tier's other
        requests, the hold confirmed with it when it pays (``paying.py``)."""
        match: Match = self._group_commit.submit(payment)
        return match

    def _submit(self, pending: Pending, idempotency_key: str | None) -> Any:
        if idempotency_key is not None:
            pending.booking_id = self.idempotent_id(pending.user_id, idempotency_key, *pending.id_scope)
            pending.replayable = True
        return self._group_commit.submit(pending)

    def idempotent_id(self, user_id: str, idempotency_key: str, *scope: str) -> UUID:
        """The id of the user's booking or hold (or, in ``scope`` "order", order) made with this
        key (see ``application.booking.idempotency``)."""
        return idempotent_booking_id(self.secret, user_id, idempotency_key, *scope)

    def cancel(
        self, booking_id: UUID, user_id: str, idempotency_key: str | None = None, actor: str | None = None
    ) -> BookingSummary:
        """Cancel a user's booking (by staff: ``actor``) and release its tickets, in one
        recording. A retry with the cancellation's ``idempotency_key`` gets the cancelled
        booking again."""
        return self._end_booking(
            booking_id,
            lambda booking: booking.cancel(user_id, idempotency_key, actor),
            lambda tier, booking: tier.release(booking.id, booking.quantity, booking.user_id, now=self.clock()),
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
            booking_id,
            lambda booking: booking.release_hold(user_id, self.clock()),
            self._give_back,
            self._hold_ended,
            owner=user_id,
        )

    def expire_hold(self, booking_id: UUID) -> BookingSummary:
        """Expire a hold whose time has come; raises ``HoldNotActiveError`` if it was
        confirmed or released first (the version check decides which came first). Decided
        in a batch with its tier's other requests (``expiring.py``): on a hot tier, a
        command of its own lost the tier to the sale's batches, round after round."""
        booking = self._aggregates.named_by(booking_id, Booking)
        if booking is None:
            raise no_booking(booking_id)
        summary: BookingSummary = self._group_commit.submit(PendingExpiry(booking.tier, booking_id))
        self.observer.hold_ended(summary.tier, summary.status)
        return summary

    def _give_back(self, tier: TicketTier, booking: Booking) -> None:
        """A released or expired hold's tickets go back on sale (or to the waiting list)."""
        tier.release_hold(booking.id, booking.user_id, booking.quantity, reason=booking.status, now=self.clock())

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
            tier = self._aggregates.tier(self._aggregates.booking(booking_id, owner).tier)
            booking = self._aggregates.booking(booking_id)
            status = booking.status
            change(booking)
            if booking.status != status:
                change_tier(tier, booking)
                self._aggregates.save(tier, booking)
                if recorded:
                    recorded(booking)
            return booking.summary()

        with self.bounded():
            return self.retries(attempt)

    def bounded(self) -> AbstractContextManager[Deadline]:
        """The store's work of the block answered within the write timeout, or 503
        (``application/persistence/deadline.py``); the door's commands use it too."""
        return store_deadline(arrived() + self.write_timeout)

    # Tier administration (``tiers.py``).

    def create_tier(
        self, code: str, price: Decimal, capacity: int, per_user_limit: int | None = None, actor: str | None = None
    ) -> TierDetails:
        with self.bounded():
            return self._tier_admin.create_tier(code, price, capacity, per_user_limit, actor)

    def ensure_tier(self, code: str, price: Decimal, capacity: int) -> bool:
        return self._tier_admin.ensure_tier(code, price, capacity)

    def create_show(self, show: NewShow, actor: str | None = None, recorded_with: Sequence[Aggregate] = ()) -> Show:
        with self.bounded():
            return self._tier_admin.create_show(show, actor, recorded_with)

    def add_capacity(self, code: str, quantity: int, actor: str | None = None) -> TierDetails:
        with self.bounded():
            return self._tier_admin.add_capacity(code, quantity, actor)

    def change_price(self, code: str, price: Decimal, actor: str | None = None) -> TierDetails:
        with self.bounded():
            return self._tier_admin.change_price(code, price, actor)

    def close_sales(self, code: str, actor: str | None = None) -> TierDetails:
        with self.bounded():
            return self._tier_admin.close_sales(code, actor)

    # Queries of the current aggregate state (strongly consistent).

    def get_tier(self, code: str) -> TierDetails:
        with self.bounded():
            return TierDetails.of(self._aggregates.tier(code))

    def get_booking(self, booking_id: UUID) -> BookingSummary:
        with self.bounded():
            return self._aggregates.booking(booking_id).summary()

    def find_tier(self, code: str) -> TicketTier | None:
        """The tier as it is now (a copy, to change), if there is one."""
        with self.bounded():
            return self._aggregates.find_tier(code)

    def find_booking(self, booking_id: UUID) -> Booking | None:
        """The booking as it is now (a copy, to change), if there is one."""
        with self.bounded():
            return self._aggregates.find_booking(booking_id)

    def order_receipt(self, order_id: UUID) -> OrderReceipt | None:
        """The order, if there is one, with its bookings and tiers as they are now."""
        with self.bounded():
            order = self._aggregates.find_order(order_id)
            return None if order is None else current_receipt(order, self._aggregates)
