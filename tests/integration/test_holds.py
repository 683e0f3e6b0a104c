"""Holds through the ledger and the read tables, on both stores, with a controllable
clock, and the races that matter: a confirm against an expiry, and many holds at once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application import BookingLedger, IdempotencyKeyReusedError
from application.audit.tier_audit import TierAudit
from application.booking.observer import LedgerObserver
from domain.bookings import BookingStatus
from domain.errors import (
    HoldExpiredError,
    HoldNotActiveError,
    InsufficientTicketsError,
    UserLimitExceededError,
)
from domain.tiers import tier_id
from projections import HoldExpiry, Projector, open_view
from tests.integration.clock import START, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ledger_on(env: dict[str, str], clock: Clock) -> BookingLedger:
    ledger = BookingLedger(env={**env, "HOLD_SECONDS": "600"})
    ledger.clock = clock
    return ledger


def audited(ledger: BookingLedger, follower: Projector, tier: str = "VIP") -> None:
    follower.catch_up()
    assert TierAudit(ledger).verify(tier, follower.view)[1] == []


def test_a_hold_expires_by_the_expiry_process_once_its_time_has_come(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        follower = Projector(ledger, open_view(ledger))
        expiry = HoldExpiry(ledger, follower.view)
        receipt = ledger.hold("ann", "VIP", 3)
        assert (receipt.status, receipt.remaining, receipt.expires_at) == ("held", 2, START + timedelta(minutes=10))
        follower.catch_up()
        assert follower.view.get_tier("VIP").available == 2
        assert expiry.seconds_to_next() == 600

        clock.now += timedelta(minutes=10) - timedelta(microseconds=1)
        assert expiry.expire_due() == 0
        clock.now += timedelta(microseconds=1)
        assert expiry.expire_due() == 1
        follower.catch_up()
        assert (follower.view.get_tier("VIP").available, ledger.get_tier("VIP").held) == (5, 0)
        assert follower.view.get_booking(str(receipt.booking_id)).status == "expired"
        assert expiry.expire_due() == 0 and expiry.seconds_to_next() is None
        with pytest.raises(HoldExpiredError):
            ledger.confirm_hold(receipt.booking_id, "ann")
        audited(ledger, follower)


def test_the_tiers_own_record_of_a_hold_carries_its_expiry(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 5)
        receipt = ledger.hold("ann", "VIP", 2)
        held = list(ledger.events.get(tier_id("VIP")))[-1]
    assert (type(held).__name__, held.booking_id, held.user_id, held.quantity, held.expires_at) == (
        "TicketsHeld",
        receipt.booking_id,
        "ann",
        2,
        START + timedelta(minutes=10),
    )


def test_on_the_real_clock_a_hold_lasts_hold_seconds_from_now_in_utc(store_env):
    with BookingLedger(env={**store_env, "HOLD_SECONDS": "90"}) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 5)
        before = datetime.now(UTC)
        receipt = ledger.hold("ann", "VIP", 1)
        after = datetime.now(UTC)
    assert before + timedelta(seconds=90) <= receipt.expires_at <= after + timedelta(seconds=90)


def test_a_hold_given_up_or_expired_gives_its_user_back_their_share_of_a_per_user_limit(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10, per_user_limit=2)
        given_up = ledger.hold("ann", "VIP", 2)
        with pytest.raises(UserLimitExceededError):  # held tickets count
            ledger.book("ann", "VIP", 1)
        ledger.release_hold(given_up.booking_id, "ann")
        lapsed = ledger.hold("ann", "VIP", 2)
        clock.now += timedelta(minutes=10)
        ledger.expire_hold(lapsed.booking_id)
        assert ledger.book("ann", "VIP", 2).remaining == 8


class Heard(LedgerObserver):
    """What the ledger reports, in order (the web app counts it for Prometheus)."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str, object]] = []
        self.batches: list[int] = []

    def batch(self, size: int) -> None:
        self.batches.append(size)

    def booked(self, tier: str, quantity: int) -> None:
        self.reports.append(("booked", tier, quantity))

    def held(self, tier: str, quantity: int) -> None:
        self.reports.append(("held", tier, quantity))

    def hold_ended(self, tier: str, reason: str) -> None:
        self.reports.append(("hold ended", tier, reason))


def test_every_sale_hold_and_end_of_a_hold_is_reported_once(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.observer = heard = Heard()
        ledger.create_tier("VIP", Decimal("1.00"), 20)
        ledger.book("ann", "VIP", 1)
        kept, given_up, lapsed = (ledger.hold(user, "VIP", n) for user, n in (("bob", 2), ("cy", 3), ("dee", 4)))
        for _ in range(2):  # the second time of each changes nothing and reports nothing
            ledger.confirm_hold(kept.booking_id, "bob")
            ledger.release_hold(given_up.booking_id, "cy")
        clock.now += timedelta(minutes=10)
        ledger.expire_hold(lapsed.booking_id)
    assert heard.reports == [
        ("booked", "VIP", 1),
        ("held", "VIP", 2),
        ("held", "VIP", 3),
        ("held", "VIP", 4),
        ("booked", "VIP", 2),
        ("hold ended", "VIP", "released"),
        ("hold ended", "VIP", "expired"),
    ]
    assert heard.batches == [1, 1, 1, 1, 1]  # one request at a time: a batch each (the expiry's too)


def test_a_confirmed_hold_is_a_booking_and_the_expiry_process_leaves_it_alone(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        follower = Projector(ledger, open_view(ledger))
        hold = ledger.hold("ann", "VIP", 2)
        follower.catch_up()  # the read tables still say "held" when the expiry runs
        assert ledger.confirm_hold(hold.booking_id, "ann").status == "confirmed"
        clock.now += timedelta(hours=1)
        assert HoldExpiry(ledger, follower.view).expire_due() == 0
        tier = ledger.get_tier("VIP")
        assert (tier.sold, tier.held, tier.available) == (2, 0, 3)
        assert ledger.cancel(hold.booking_id, "ann").status == "cancelled"
        audited(ledger, follower)


def test_a_hold_is_idempotent_like_a_booking_and_a_key_cannot_switch_between_them(store_env, clock):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        first = ledger.hold("ann", "VIP", 2, idempotency_key="cart-1")
        clock.now += timedelta(seconds=5)
        again = ledger.hold("ann", "VIP", 2, idempotency_key="cart-1")
        assert again == first and ledger.get_tier("VIP").held == 2
        with pytest.raises(IdempotencyKeyReusedError):
            ledger.book("ann", "VIP", 2, idempotency_key="cart-1")


def test_a_confirm_that_races_the_expiry_has_exactly_one_winner(store_env, clock):
    """Each round, one ledger confirms a hold at the last moment its clock allows while
    another expires it at its expiry time; the version check picks one winner."""
    late = Clock()
    with ledger_on(store_env, clock) as holder, ledger_on(store_env, late) as expirer:
        holder.create_tier("VIP", Decimal("100.00"), 1_000)
        winners = Counter()
        for _ in range(30):
            hold = holder.hold("ann", "VIP", 1)
            clock.now = hold.expires_at - timedelta(microseconds=1)
            late.now = hold.expires_at
            start = threading.Barrier(2)

            def confirm(start=start, hold=hold):
                start.wait()
                try:
                    return holder.confirm_hold(hold.booking_id, "ann").status
                except HoldExpiredError:
                    return "lost"

            def expire(start=start, hold=hold):
                start.wait()
                try:
                    return expirer.expire_hold(hold.booking_id).status
                except HoldNotActiveError:
                    return "lost"

            with ThreadPoolExecutor(2) as pool:
                outcome = sorted(f.result() for f in (pool.submit(confirm), pool.submit(expire)))
            assert outcome in (["confirmed", "lost"], ["expired", "lost"])
            assert holder.get_booking(hold.booking_id).status == next(o for o in outcome if o != "lost")
            winners[outcome[0]] += 1
            clock.now = late.now = START
        tier = holder.get_tier("VIP")
        assert (tier.sold, tier.held) == (winners["confirmed"], 0)
        audited(holder, Projector(holder, open_view(holder)))


def test_many_holds_and_bookings_at_once_never_take_more_than_the_capacity(store_env, clock):
    with ledger_on(store_env, clock) as one, ledger_on(store_env, clock) as two:
        one.create_tier("VIP", Decimal("100.00"), 20)
        start = threading.Barrier(40)

        def take(n: int) -> str:
            ledger = one if n % 2 else two
            start.wait()
            try:
                (ledger.hold if n % 3 else ledger.book)(f"user-{n}", "VIP", 1)
            except InsufficientTicketsError:
                return "refused"
            return "taken"

        with ThreadPoolExecutor(40) as pool:
            outcomes = Counter(pool.map(take, range(40)))
        assert outcomes == {"taken": 20, "refused": 20}
        tier = one.get_tier("VIP")
        assert (tier.sold + tier.held, tier.available) == (20, 0)
        follower = Projector(one, open_view(one))
        clock.now += timedelta(hours=1)
        follower.catch_up()
        assert HoldExpiry(two, follower.view).expire_due() == tier.held
        assert one.get_tier("VIP").available == tier.held
        audited(one, follower)


def test_a_hold_that_cannot_be_expired_does_not_stall_the_holds_due_after_it(store_env, clock, monkeypatch):
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        follower = Projector(ledger, open_view(ledger))
        broken = ledger.hold("ann", "VIP", 1).booking_id
        clock.now += timedelta(seconds=1)
        fine = ledger.hold("bob", "VIP", 1).booking_id
        follower.catch_up()
        expire = ledger.expire_hold

        def expire_all_but_the_broken_one(booking_id):
            if booking_id == broken:
                raise RuntimeError("an unexpected problem with this one hold")
            return expire(booking_id)

        monkeypatch.setattr(ledger, "expire_hold", expire_all_but_the_broken_one)
        clock.now += timedelta(minutes=11)
        assert HoldExpiry(ledger, follower.view).expire_due() == 1
        assert (ledger.get_booking(fine).status, ledger.get_booking(broken).status) == ("expired", "held")


def test_a_holds_ending_is_stored_as_its_status_text_and_read_back_as_a_status(store_env, clock):
    """Status is a type on both sides; what is stored (the event's reason, the table's
    column) is the text it always was."""
    with ledger_on(store_env, clock) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        receipt = ledger.hold("ann", "VIP", 1)
        ledger.release_hold(receipt.booking_id, "ann")
        follower = Projector(ledger, open_view(ledger))
        follower.catch_up()
        *_, ended = ledger.recorder.select_events(receipt.booking_id)
        assert json.loads(bytes(ended.state))["reason"] == "released"
        with BookingLedger(env=store_env) as fresh:  # the booking replayed from the store
            replayed = fresh.find_booking(receipt.booking_id)
        read = follower.view.get_booking(str(receipt.booking_id))
    assert replayed is not None and read is not None
    assert (replayed.status, read.status) == (BookingStatus.RELEASED, BookingStatus.RELEASED)
    assert type(replayed.status) is type(read.status) is BookingStatus
