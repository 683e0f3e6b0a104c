"""The history checker of ``ticketledger verify`` on small hand-made histories.

The store is a real ledger in a SQLite file; the history is what a service would have
answered, written here attempt by attempt (``Service``). A clean history passes; each
broken promise is found as the anomaly of its kind, and only that one.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from application import BookingLedger, BookingReceipt
from domain.bookings import BookingSummary
from domain.tiers import tier_id
from scripts.verify.anomaly import Anomaly
from scripts.verify.checker import check
from scripts.verify.history import Attempt, History
from scripts.verify.store import read_store


class Service:
    """Calls the ledger as the web layer would, and writes each call down as an attempt."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger
        self.attempts: list[Attempt] = []

    def book(
        self, user: str, quantity: int = 1, key: str | None = None, op: str = "book", request: str | None = None
    ) -> Attempt:
        take = self.ledger.hold if op == "hold" else self.ledger.book
        args = {"userId": user, "tier": "HOT", "quantity": quantity}
        return self._call(op, args, key, request or user, lambda: receipt_body(take(user, "HOT", quantity, key)), 201)

    def end(self, op: str, booking: Attempt) -> Attempt:
        command = {
            "confirm": self.ledger.confirm_hold,
            "release": self.ledger.release_hold,
            "cancel": self.ledger.cancel,
        }[op]
        user, booking_id = booking.args["userId"], booking.booking_id
        return self._call(
            op,
            {"userId": user, "bookingId": booking_id},
            None,
            f"{user}-{op}",
            lambda: summary_body(command(uuid.UUID(booking_id), user)),
            200,
        )

    def answer(self, attempt: Attempt) -> Attempt:
        """Add an attempt as given (an answer the service made up)."""
        self.attempts.append(attempt)
        return attempt

    def _call(
        self, op: str, args: dict, key: str | None, request: str, act: Callable[[], dict], status: int
    ) -> Attempt:
        sent = time.time()
        body = act()
        return self.answer(
            Attempt(len(self.attempts) + 1, 0, request, "in-process", op, args, key, sent, time.time(), status, body)
        )

    def check(self) -> list[Anomaly]:
        return check(History(attempts=self.attempts), read_store(self.ledger, None, time.time()))

    def anomalies(self) -> set[str]:
        return {anomaly.kind for anomaly in self.check()}


def receipt_body(receipt: BookingReceipt) -> dict:
    quantity = "heldQuantity" if receipt.status == "held" else "bookedQuantity"
    return {
        "bookingId": str(receipt.booking_id),
        "tier": receipt.tier,
        quantity: receipt.quantity,
        "remainingQuantity": receipt.remaining,
        "status": receipt.status,
    }


def summary_body(summary: BookingSummary) -> dict:
    return {"bookingId": str(summary.booking_id), "status": summary.status}


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    with BookingLedger(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    ) as ledger:
        ledger.create_tier("HOT", Decimal("10.00"), 100)
        yield Service(ledger)


def a_clean_day(service: Service) -> None:
    """Bookings with and without keys, a key sent twice, a hold confirmed, a hold
    released, a cancel, and a refusal: everything as the store recorded it."""
    service.book("ann", 2)
    keyed = service.book("bob", 3, key="k1")
    service.book("bob", 3, key="k1")  # the retry: the same booking, "remaining" as it is now
    held = service.book("cat", 1, op="hold")
    service.end("confirm", held)
    service.end("release", service.book("dan", 2, key="k2", op="hold"))
    service.end("cancel", keyed)


def test_a_history_the_store_bears_out_has_no_anomaly(service):
    a_clean_day(service)
    assert service.anomalies() == set()


def test_a_201_for_a_booking_the_store_does_not_have_is_a_lost_receipt(service):
    a_clean_day(service)
    real = service.book("eve", 1)
    made_up = dataclasses.replace(
        real,
        id=99,
        request="fay",
        args={**real.args, "userId": "fay"},
        body={**real.body, "bookingId": str(uuid.uuid4())},
    )
    service.answer(made_up)
    assert service.anomalies() == {"lost-receipt"}


def test_a_key_that_made_two_bookings_is_found(service):
    """The second attempt of the keyed request booked again (the key was ignored)."""
    a_clean_day(service)
    service.book("gus", 1, key="k3")
    second = service.book("gus", 1, key=None)
    service.attempts[-1] = dataclasses.replace(second, key="k3")
    assert service.anomalies() == {"key-two-ids", "key-two-bookings"}


def test_a_remaining_quantity_the_tier_never_had_after_the_booking_is_not_linearizable(service):
    a_clean_day(service)
    booked = service.book("hal", 2)
    service.attempts[-1] = dataclasses.replace(
        booked, body={**booked.body, "remainingQuantity": booked.body["remainingQuantity"] + 1}
    )
    assert service.anomalies() == {"wrong-remaining"}


def test_a_replayed_answer_must_report_an_availability_of_its_own_interval(service):
    service.book("ivy", 1, key="k4")
    service.book("jon", 5)
    replay = service.book("ivy", 1, key="k4")  # answered "now": 100 - 1 - 5
    assert replay.body["remainingQuantity"] == 94 and service.anomalies() == set()
    service.attempts[-1] = dataclasses.replace(replay, body={**replay.body, "remainingQuantity": 99})  # before jon
    assert service.anomalies() == {"wrong-remaining"}


def test_a_request_recorded_before_one_acknowledged_before_it_was_sent_is_out_of_real_time_order(service):
    """A was answered before B was sent, yet B's booking has the lower version."""
    b = service.book("kim", 1)
    a = service.book("lee", 1)
    service.attempts[0] = dataclasses.replace(b, sent=a.answered + 0.01, answered=a.answered + 0.02)
    assert [(x.kind, x.attempts) for x in service.check()] == [("real-time-order", (b.id,))]


def test_an_answer_before_its_event_existed_is_found_and_is_no_evidence_against_later_requests(service):
    earlier = service.book("kim", 1)
    premature = service.book("lee", 1)
    before = earlier.sent - 2  # answered before its event was created, and before kim's request was sent
    service.attempts[-1] = dataclasses.replace(premature, sent=before, answered=before + 0.01)
    assert [(x.kind, x.attempts) for x in service.check()] == [("real-time-order", (premature.id,))]


def test_a_booking_no_request_accounts_for_is_found(service):
    a_clean_day(service)
    service.ledger.book("mia", "HOT", 1)  # nobody asked
    assert service.anomalies() == {"unattributed-booking"}


def test_an_unkeyed_request_may_book_once_per_attempt_but_not_more(service):
    service.book("ned", 1)
    lost = dataclasses.replace(service.attempts[-1], id=2, status=None, body=None, error="TimeoutError")
    service.answer(lost)
    service.ledger.book("ned", "HOT", 1)  # the timed-out attempt went through: allowed
    assert service.anomalies() == set()
    service.ledger.book("ned", "HOT", 1)  # a third booking from two attempts
    assert service.anomalies() == {"unattributed-booking"}


def test_a_confirm_answered_200_that_the_store_lacks_is_a_lost_change(service):
    held = service.book("ola", 1, op="hold")
    confirm = service.end("release", held)
    service.attempts[-1] = dataclasses.replace(confirm, op="confirm", body={**confirm.body, "status": "confirmed"})
    assert service.anomalies() == {"lost-change", "unattributed-change"}  # and the release nobody sent


def test_a_500_is_an_unexpected_answer(service):
    a_clean_day(service)
    failed = dataclasses.replace(
        service.attempts[0], id=98, request="pat", status=500, body={"error": {"code": "INTERNAL_SERVER_ERROR"}}
    )
    service.answer(failed)
    assert service.anomalies() == {"unexpected-answer"}


def test_the_balancers_bare_502_for_a_request_a_dying_server_cut_off_is_indeterminate_not_unexpected(service):
    """Through HAProxy (verify --cluster), a server SIGKILLed mid-request is a bare 502: the
    request may or may not have been recorded, as with a connection cut, and is retried."""
    a_clean_day(service)
    cut_off = dataclasses.replace(service.attempts[0], id=98, request="pat", status=502, body="<html>502</html>")
    service.answer(cut_off)
    assert service.anomalies() == set()


def test_a_store_that_lost_commits_in_a_failover_is_reported_not_raised(service):
    """What asynchronous replication leaves after losing its primary (docs/production.md):
    a tier event missing from the middle of its history, and a booking whose creation is
    missing while its cancellation is there. The checker names both and every 201 gone."""
    a_clean_day(service)
    keyed = next(a for a in service.attempts if a.key == "k1")
    with service.ledger.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            "DELETE FROM stored_events WHERE (originator_id = ? AND originator_version = 1)"
            " OR (originator_id = ? AND originator_version = 3)",
            (uuid.UUID(keyed.booking_id).hex, tier_id("HOT").hex),
        )
    kinds = {anomaly.kind: anomaly for anomaly in service.check()}
    assert {"audit", "lost-receipt"} <= set(kinds)
    messages = [a.message for a in service.check() if a.kind == "audit"]
    assert any("version 4 follows version 2" in m for m in messages)
    assert any("a booking changed whose creation is not in the store" in m for m in messages)
