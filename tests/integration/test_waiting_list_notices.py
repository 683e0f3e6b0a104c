"""A waiting list as other systems see it, on both stores: each offer, acceptance, decline
and lapse is one notice in the feed, in order, with figures that count the tickets kept for
the list; the buyer offered tickets is mailed once; a rebuilt outbox is the same."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from application import BookingLedger
from application.booking.waiting_list import WaitingList
from projections.integrations.emails import EmailSender
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from tests.integration.clock import Clock
from tests.integration.smtp_inbox import smtp_inbox
from tests.integration.test_outbox import everything, wipe


@pytest.fixture
def sale(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.clock = Clock()
        ledger.create_tier("GA", Decimal("10.00"), 1)
        outbox = Outbox(ledger, IntegrationTables(ledger))
        outbox.catch_up()
        yield ledger, WaitingList(ledger), outbox


def offers_three_ways(ledger: BookingLedger, waiting_list: WaitingList) -> None:
    """The one ticket is sold; ann, bob and cat wait; it comes back three times: ann lets
    hers lapse, bob declines, cat accepts."""
    first = ledger.book("x", "GA", 1).booking_id
    for user in ("ann", "bob", "cat"):
        waiting_list.join(user, "GA", 1)
    ledger.cancel(first, "x")
    ann = waiting_list.place("ann", "GA").place.offer
    ledger.clock.now += timedelta(days=2)  # type: ignore[attr-defined]
    ledger.expire_hold(ann)
    ledger.release_hold(waiting_list.place("bob", "GA").place.offer, "bob")
    ledger.confirm_hold(waiting_list.place("cat", "GA").place.offer, "cat")


def test_offers_and_their_endings_are_notices_in_order_with_the_figures_after_them(sale):
    ledger, waiting_list, outbox = sale
    offers_three_ways(ledger, waiting_list)
    outbox.catch_up()
    notices = [json.loads(body) for _, body in everything(outbox.tables)]
    told = [(n["type"], n["userId"], n["held"], n["availableQuantity"]) for n in notices[3:]]
    assert told == [
        ("booking.cancelled", "x", 0, 1),  # the ticket came back ...
        ("waiting_list.tickets_kept", None, 1, 0),  # ... in the same recording kept for the list, not on sale
        ("waiting_list.offered", "ann", 1, 0),
        ("hold.expired", "ann", 0, 1),
        ("waiting_list.lapsed", "ann", 0, 1),
        ("waiting_list.tickets_kept", None, 1, 0),
        ("waiting_list.offered", "bob", 1, 0),
        ("hold.released", "bob", 0, 1),
        ("waiting_list.declined", "bob", 0, 1),
        ("waiting_list.tickets_kept", None, 1, 0),
        ("waiting_list.offered", "cat", 1, 0),
        ("hold.confirmed", "cat", 0, 0),
        ("waiting_list.accepted", "cat", 0, 0),
    ]
    offered, lapsed = notices[5], notices[6]
    assert (offered["bookingId"], offered["expiresAt"]) == (
        lapsed["bookingId"],
        (Clock().now + timedelta(days=1)).isoformat(),
    )
    before = everything(outbox.tables)
    wipe(outbox.tables)
    outbox.catch_up()
    assert everything(outbox.tables) == before


def test_the_buyer_offered_tickets_is_mailed_once(sale):
    ledger, waiting_list, outbox = sale
    with smtp_inbox() as (inbox, settings):
        sender = EmailSender(outbox.tables, settings)
        offers_three_ways(ledger, waiting_list)
        outbox.catch_up()
        sender.send_due()
        assert sender.send_due() == 0
        offers = [m for m in inbox.messages if m["Subject"].startswith("Your turn")]
        assert len(offers) == 3
        first = offers[0]
        assert first["Subject"].startswith("Your turn on the waiting list: 1 × GA held for you until 2026-03-02")
        assert "confirming your hold" in first.get_body(("plain",)).get_content()
        assert [s["kind"] for s in sender.sends()].count("offered") == 3
