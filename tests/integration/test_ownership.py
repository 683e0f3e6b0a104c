"""Someone else's booking, to the ledger: not found, exactly as an id that names no booking,
and found out by the same work (one read of the booking), so neither the answer nor the
time it takes tells a stranger which ids exist."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from application import BookingLedger, BookingNotFoundError


@pytest.mark.parametrize("command", ["cancel", "confirm_hold", "release_hold"])
def test_a_strangers_command_is_refused_as_for_an_unknown_booking_after_the_same_reads(ledger: BookingLedger, command):
    ledger.create_tier("VIP", Decimal("1.00"), 5)
    take = ledger.book if command == "cancel" else ledger.hold
    booking_id = take("ann", "VIP", 2).booking_id
    unknown = uuid.uuid4()
    reads: list[uuid.UUID] = []
    get = ledger.repository.get
    ledger.repository.get = lambda aggregate_id, **kwargs: reads.append(aggregate_id) or get(aggregate_id, **kwargs)
    with pytest.raises(BookingNotFoundError) as strangers:
        getattr(ledger, command)(booking_id, "mallory")
    with pytest.raises(BookingNotFoundError) as nobodys:
        getattr(ledger, command)(unknown, "mallory")
    assert str(strangers.value).replace(str(booking_id), "ID") == str(nobodys.value).replace(str(unknown), "ID")
    assert reads == [booking_id, unknown]
    ledger.repository.get = get
    assert ledger.get_booking(booking_id).status == ("confirmed" if command == "cancel" else "held")
    assert ledger.get_tier("VIP").available == 3
