"""A user's list shows their bookings at once, before the read tables catch up, and then
exactly what the read tables show."""

from __future__ import annotations

import itertools
from contextlib import suppress
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application import BookingLedger
from domain.errors import BookingAlreadyCancelledError, BookingNotConfirmedError, HoldNotActiveError
from projections import Projector, open_view
from projections.read_model.own_writes import bookings_of_user


def listed(follower: Projector, user: str) -> list[tuple]:
    return [
        (b.booking_id, b.tier, b.quantity, b.status, b.created_at, b.updated_at, b.expires_at)
        for b in bookings_of_user(follower, [user])
    ]


def test_a_booking_just_made_is_listed_before_the_read_tables_have_it(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    follower = Projector(ledger, open_view(ledger))
    follower.catch_up()
    receipt = ledger.book("alice", "VIP", 2)
    assert follower.view.bookings_of_user("alice") == []  # the read tables lag
    [booking] = bookings_of_user(follower, ["alice"])
    assert (booking.booking_id, booking.status, booking.quantity) == (receipt.booking_id, "confirmed", 2)
    assert bookings_of_user(follower, ["bob"]) == []


def test_a_change_not_yet_projected_shows_on_a_projected_booking(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    follower = Projector(ledger, open_view(ledger))
    kept, dropped = ledger.book("alice", "VIP", 1), ledger.hold("alice", "VIP", 3)
    follower.catch_up()
    ledger.release_hold(dropped.booking_id, "alice")
    ledger.cancel(kept.booking_id, "alice")
    statuses = {b.booking_id: b.status for b in bookings_of_user(follower, ["alice"])}
    assert statuses == {kept.booking_id: "cancelled", dropped.booking_id: "released"}


def test_the_list_equals_the_read_tables_once_they_catch_up(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("100.00"), 100)
    follower = Projector(ledger, open_view(ledger))
    first = ledger.hold("alice", "VIP", 2)
    follower.catch_up()
    ledger.confirm_hold(first.booking_id, "alice")
    ledger.book("alice", "VIP", 1)
    before = listed(follower, "alice")
    follower.catch_up()
    projected = [
        (b.booking_id, b.tier, b.quantity, b.status, b.created_at, b.updated_at, b.expires_at)
        for b in follower.view.bookings_of_user("alice")
    ]
    assert before == listed(follower, "alice") == projected


TIER_CODES = (f"T{n}" for n in itertools.count())
# What the domain refuses of each command here, recording nothing: a cancel of a hold or of
# a booking that ended, a confirm or release of a booking that is not an active hold.
# Sales never are: the tier has room for every booking and hold a run can make.
REFUSALS: dict[str, tuple[type[Exception], ...]] = {
    "cancel": (BookingNotConfirmedError, BookingAlreadyCancelledError),
    "confirm": (HoldNotActiveError,),
    "release": (HoldNotActiveError,),
}
COMMANDS = st.lists(
    st.tuples(st.sampled_from(["book", "hold", "cancel", "confirm", "release", "project"]), st.integers(0, 5)),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
def test_at_any_moment_the_list_is_what_the_caught_up_tables_will_show(ledger: BookingLedger, commands):
    """Whatever mix of projected and unprojected commands, the list now equals the read
    tables' rows once they have caught up."""
    code = next(TIER_CODES)
    ledger.create_tier(code, Decimal("1.00"), 1000)
    user = f"user-{code}"
    lagging = Projector(ledger, open_view(ledger))
    made: list = []
    for command, n in commands:
        target = made[n % len(made)].booking_id if made else None
        with suppress(*REFUSALS.get(command, ())):
            if command in ("book", "hold"):
                made.append(getattr(ledger, command)(user, code, n + 1))
            elif command == "project":
                lagging.catch_up()
            elif target is not None:
                {"cancel": ledger.cancel, "confirm": ledger.confirm_hold, "release": ledger.release_hold}[command](
                    target, user
                )
    now = listed(lagging, user)
    lagging.catch_up()
    assert now == [
        (b.booking_id, b.tier, b.quantity, b.status, b.created_at, b.updated_at, b.expires_at)
        for b in lagging.view.bookings_of_user(user)
    ]
