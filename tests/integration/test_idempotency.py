"""An Idempotency-Key makes a booking safe to retry, however often and however concurrently."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError

from application import BookingLedger, IdempotencyKeyReusedError, LedgerBusyError
from application.booking.aggregates import LedgerAggregates
from application.booking.batch import BatchDecision, decide
from application.booking.group_commit import PendingBooking
from domain.errors import InsufficientTicketsError


def confirmed_bookings(ledger: BookingLedger) -> int:
    return sum(1 for n in ledger.recorder.select_notifications(1, 10_000) if n.topic.endswith("Booking.Confirmed"))


def test_the_same_request_again_returns_the_same_booking_and_books_nothing_more(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    first = ledger.book("u1", "VIP", 2, idempotency_key="k-1")
    again = ledger.book("u1", "VIP", 2, idempotency_key="k-1")
    assert again == first and first.booking_id == ledger.idempotent_id("u1", "k-1")
    assert ledger.get_tier("VIP").sold == 2 and confirmed_bookings(ledger) == 1


def test_a_key_is_per_user_and_refused_for_a_different_request(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    mine = ledger.book("u1", "VIP", 2, idempotency_key="k")
    theirs = ledger.book("u2", "VIP", 2, idempotency_key="k")
    assert mine.booking_id != theirs.booking_id
    with pytest.raises(IdempotencyKeyReusedError):
        ledger.book("u1", "VIP", 3, idempotency_key="k")
    assert ledger.get_tier("VIP").sold == 4


def test_the_refusal_of_a_reused_key_tells_the_client_what_went_wrong(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    ledger.book("u1", "VIP", 2, idempotency_key="k")
    with pytest.raises(
        IdempotencyKeyReusedError, match=r"^This Idempotency-Key was used for a different booking request\.$"
    ):
        ledger.book("u1", "VIP", 3, idempotency_key="k")


def test_a_refused_request_may_be_retried_with_its_key(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 1)
    with pytest.raises(InsufficientTicketsError):
        ledger.book("u1", "VIP", 2, idempotency_key="k")
    ledger.add_capacity("VIP", 1)
    assert ledger.book("u1", "VIP", 2, idempotency_key="k").remaining == 0


def test_twins_in_one_batch_book_once_and_do_not_fail_the_others(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    key = ledger.idempotent_id("u1", "k")
    batch = [
        PendingBooking("u1", "VIP", 2, key, replayable=True),
        PendingBooking("u2", "VIP", 1),
        PendingBooking("u1", "VIP", 2, key, replayable=True),
        PendingBooking("u1", "VIP", 5, key, replayable=True),
    ]
    ledger._batch_commit(batch)
    twin, other, same, different = (p.outcome for p in batch)
    assert same == twin and twin.remaining == 8 and other.remaining == 7
    assert isinstance(different, IdempotencyKeyReusedError)
    assert ledger.get_tier("VIP").sold == 3 and confirmed_bookings(ledger) == 2


def test_fifty_concurrent_identical_requests_make_one_booking(store_env):
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 100)
        start = threading.Barrier(50)

        def book(n: int):
            start.wait()
            return (one if n % 2 else two).book("u1", "VIP", 3, idempotency_key="retry-me")

        with ThreadPoolExecutor(50) as pool:
            receipts = list(pool.map(book, range(50)))
        assert {r.booking_id for r in receipts} == {one.idempotent_id("u1", "retry-me")}
        assert one.get_tier("VIP").sold == 3 and confirmed_bookings(one) == 1


def test_a_batch_whose_commit_went_through_unanswered_is_not_refused_or_booked_twice(ledger: BookingLedger):
    """The store records the batch, then the connection fails before the answer, and
    the library's retry of the same insert is refused: the batch still gets its receipts."""
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    insert = ledger.recorder.insert_events
    calls = []

    def recorded_then_refused(*args, **kwargs):
        result = insert(*args, **kwargs)
        calls.append(result)
        if len(calls) == 1:
            raise IntegrityError("the retried insert of what was just committed")
        return result

    ledger.recorder.insert_events = recorded_then_refused
    receipt = ledger.book("u1", "VIP", 2)
    assert (receipt.remaining, ledger.get_booking(receipt.booking_id).status) == (8, "confirmed")
    assert ledger.get_tier("VIP").sold == 2 and confirmed_bookings(ledger) == 1 and len(calls) == 1


def test_a_decision_is_found_stored_however_many_events_the_tier_got_after_it(ledger: BookingLedger):
    """What the unanswered-commit case relies on: a recorded decision is recognised even
    after other bookings moved the tier on; one never recorded, or one that records
    nothing, is not."""
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    aggregates = LedgerAggregates(ledger)
    recorded = decide([PendingBooking("u1", "VIP", 2), PendingBooking("u2", "VIP", 1)], aggregates, ledger.clock())
    ledger.save(*recorded.tiers, *recorded.bookings)
    ledger.book("u3", "VIP", 1)
    lost = decide([PendingBooking("u4", "VIP", 1)], aggregates, ledger.clock())  # decided, never saved
    assert recorded.is_stored_in(ledger.events) and not lost.is_stored_in(ledger.events)
    assert not BatchDecision.refused(2, LedgerBusyError("busy")).is_stored_in(ledger.events)
