"""The public vocabulary: each domain event maps to one notice (integration event; plus
``tier.sold_out`` after the sale or hold that takes the last ticket), with the tier's
figures after it, and ids and positions that a replay reproduces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from domain.bookings import Booking
from domain.payments import Payment, PaymentTerms
from domain.tickets import Scan, ticket_id
from domain.tiers import TicketTier
from projections.integrations.mapping import PER_NOTIFICATION, TOPICS, MappingState, NoticeMapper
from projections.integrations.notices import TYPES

EXPIRES = datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def mapped(domain_events: list[Any], state: MappingState | None = None, first: int = 1) -> list:
    openings = {str(e.originator_id): e for e in domain_events if isinstance(e, Payment.Opened)}
    mapper = NoticeMapper(state or MappingState(), openings)
    return [notice for n, domain_event in enumerate(domain_events, first) for notice in mapper.map(domain_event, n)]


def history() -> list[Any]:
    """A tier's life touching every type: sell out by a hold, confirm it, cancel, add, reprice, close."""
    tier = TicketTier.open("VIP", Decimal("10.00"), 3)
    alice, bob, carol, dave = uuid4(), uuid4(), uuid4(), uuid4()
    tier.book(alice, "alice", 2)
    tier.hold(bob, "bob", 1, EXPIRES)  # the last ticket: sold out
    tier.confirm_hold(bob, 1)
    tier.release(alice, 2, "alice")
    tier.hold(carol, "carol", 1, EXPIRES)
    tier.release_hold(carol, "carol", 1, reason="released")
    tier.hold(dave, "dave", 2, EXPIRES)  # sold out again
    tier.release_hold(dave, "dave", 2, reason="expired")
    tier.add_capacity(1)
    tier.change_price(Decimal("12.5"), actor="member:mia")
    tier.close_sales()
    return list(tier.collect_events()) + scans_of(bob)


SCANNED = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


def scans_of(booking_id: Any) -> list[Any]:
    """Bob's ticket admitted at the north gate, then scanned by an offline gate too."""
    booking = Booking.confirm(booking_id, "bob", "VIP", 1)
    booking.check_in(0, Scan("north", SCANNED, "n-1"))
    booking.merge_offline_scan(0, Scan("south", SCANNED + timedelta(minutes=1), "s-1"))
    return list(booking.collect_events())[1:]  # the booking's creation maps to no notice


def payment_of(booking_id: Any) -> list[Any]:
    """Bob's payment: opened, paid, a refund owed (not announced: the outbox does not read
    it), then sent back in part; the outbox reads only ``TOPICS``."""
    payment = Payment.open(booking_id, "VIP", "bob", "RF18539007547034", 1000, PaymentTerms("EUR", 900), EXPIRES)
    payment.receive(1000, "EUR", "cash", "till-1")
    payment.request_refund(1000, "cancelled")
    payment.refund(400, "cash", "till-2")
    return [e for e in payment.collect_events() if get_topic(type(e)) in TOPICS]  # not RefundRequested


def test_every_domain_event_has_its_type_and_each_type_appears():
    notices = mapped(history() + payment_of(uuid4()))
    assert [e.type for e in notices] == [
        "tier.created",
        "booking.confirmed",
        "hold.placed",
        "tier.sold_out",
        "hold.confirmed",
        "booking.cancelled",
        "hold.placed",
        "hold.released",
        "hold.placed",
        "tier.sold_out",
        "hold.expired",
        "tier.capacity_added",
        "tier.price_changed",
        "tier.sales_closed",
        "ticket.checked_in",
        "ticket.scan_conflict",
        "payment.awaiting",
        "payment.received",
        "payment.refunded",
    ]
    assert {e.type for e in notices + mapped(waiting_list_story())} == set(TYPES)
    money = [(e.amount, e.currency, e.reference, e.user_id, e.available) for e in notices[-3:]]
    assert money == [(amount, "EUR", "RF18539007547034", "bob", 3) for amount in (1000, 1000, 400)]
    assert notices[-3].expires_at == EXPIRES and notices[-1].expires_at is None


def waiting_list_story() -> list[Any]:
    """A tier of two, sold out, with a waiting list: offers lapsed, accepted and declined,
    tickets kept for the list and put back on sale when its last leaves."""
    tier = TicketTier.open("GA", Decimal("10.00"), 2)
    x, y, z = uuid4(), uuid4(), uuid4()
    tier.book(x, "x", 1)
    tier.book(y, "y", 1)
    for user, quantity in (("ann", 1), ("bob", 1), ("cat", 2)):
        tier.join_waiting_list(uuid4(), user, quantity, NOW)
    tier.release(x, 1, "x", now=NOW)
    tier.release_hold(UUID(tier.offers[0]["booking_id"]), "ann", 1, "expired", NOW)
    tier.confirm_hold(UUID(tier.offers[0]["booking_id"]), 1)  # bob's
    tier.release(y, 1, "y", now=NOW)  # kept for cat, who asks for two
    tier.leave_waiting_list("cat", NOW)  # nobody waits: back on sale
    tier.book(z, "z", 1)
    tier.join_waiting_list(uuid4(), "dan", 1, NOW)
    tier.release(z, 1, "z", now=NOW)
    tier.release_hold(UUID(tier.offers[0]["booking_id"]), "dan", 1, "released", NOW)
    return [e for e in tier.collect_events() if get_topic(type(e)) in TOPICS]  # joining and leaving: no notice


def test_a_waiting_lists_offers_and_their_endings_are_announced_in_order():
    types = [notice.type for notice in mapped(waiting_list_story()) if notice.type.startswith("waiting_list.")]
    assert types == [
        "waiting_list.tickets_kept",
        "waiting_list.offered",
        "waiting_list.lapsed",
        "waiting_list.tickets_kept",
        "waiting_list.offered",
        "waiting_list.accepted",
        "waiting_list.tickets_kept",
        "waiting_list.tickets_back_on_sale",
        "waiting_list.tickets_kept",
        "waiting_list.offered",
        "waiting_list.declined",
    ]


def test_a_scan_names_its_ticket_gate_and_time_with_the_tiers_figures():
    *tier_notices, admitted, conflict = mapped(history())
    ticket = str(ticket_id(UUID(admitted.booking_id), 0))
    assert (admitted.ticket_id, admitted.gate, admitted.occurred_at, admitted.quantity) == (ticket, "north", SCANNED, 1)
    assert (conflict.ticket_id, conflict.gate, conflict.user_id) == (ticket, "south", "bob")
    last = tier_notices[-1]
    assert (admitted.capacity, admitted.sold, admitted.available) == (last.capacity, last.sold, last.available)
    assert tier_notices[0].to_json()["ticketId"] is None and admitted.to_json()["gate"] == "north"


def test_each_notice_carries_the_tiers_figures_after_it():
    notices = mapped(history())
    figures = [(e.type, e.capacity, e.sold, e.held, e.available) for e in notices]
    assert figures[:6] == [
        ("tier.created", 3, 0, 0, 3),
        ("booking.confirmed", 3, 2, 0, 1),
        ("hold.placed", 3, 2, 1, 0),
        ("tier.sold_out", 3, 2, 1, 0),
        ("hold.confirmed", 3, 3, 0, 0),
        ("booking.cancelled", 3, 1, 0, 2),
    ]
    assert figures[-5:-2] == [
        ("tier.capacity_added", 4, 1, 0, 3),
        ("tier.price_changed", 4, 1, 0, 3),
        ("tier.sales_closed", 4, 1, 0, 3),
    ]
    assert all(e.tier == "VIP" for e in notices)


def test_a_price_change_says_the_new_price_and_the_one_before_as_the_api_writes_prices():
    notices = mapped(history())
    [changed] = [e.to_json() for e in notices if e.type == "tier.price_changed"]
    assert (changed["price"], changed["previousPrice"], changed["userId"], changed["quantity"]) == (
        "12.50",
        "10.00",
        None,
        None,
    )
    assert {(e.price, e.previous_price) for e in notices if e.type != "tier.price_changed"} == {(None, None)}


def test_a_confirmed_hold_names_its_user_although_the_tiers_domain_event_does_not():
    confirmed = next(e for e in mapped(history()) if e.type == "hold.confirmed")
    assert (confirmed.user_id, confirmed.quantity) == ("bob", 1)


def test_sold_out_follows_the_notice_of_the_last_ticket_taken_at_the_next_index():
    notices = mapped(history())
    placed, sold_out = notices[2], notices[3]
    assert placed.position == 3 * PER_NOTIFICATION and sold_out.position == 3 * PER_NOTIFICATION + 1
    assert sold_out.occurred_at == placed.occurred_at and sold_out.booking_id is None


def test_sold_out_is_emitted_again_only_after_tickets_came_back():
    tier = TicketTier.open("GA", Decimal("1.00"), 1)
    tier.book(uuid4(), "a", 1)
    tier.add_capacity(2)
    tier.book(uuid4(), "b", 1)
    tier.book(uuid4(), "c", 1)
    types = [e.type for e in mapped(list(tier.collect_events()))]
    assert types == [
        "tier.created",
        "booking.confirmed",
        "tier.sold_out",
        "tier.capacity_added",
        "booking.confirmed",
        "booking.confirmed",
        "tier.sold_out",
    ]


def test_a_tier_without_capacity_or_closed_is_not_sold_out():
    tier = TicketTier.open("FREE", Decimal("0.00"), 0)
    tier.close_sales()
    assert [e.type for e in mapped(list(tier.collect_events()))] == ["tier.created", "tier.sales_closed"]


def test_a_replay_gives_identical_ids_positions_and_bodies():
    domain_events = history()
    assert [e.body() for e in mapped(domain_events)] == [e.body() for e in mapped(domain_events)]
    ids = [e.id for e in mapped(domain_events)]
    assert len(set(ids)) == len(ids)


def test_mapping_resumes_from_the_state_a_page_left():
    domain_events = history()
    state = MappingState()
    first = mapped(domain_events[:3], state)
    rest = mapped(domain_events[3:], MappingState(tiers=state.tiers, hold_users=dict(state.hold_users)), first=4)
    assert [e.body() for e in first + rest] == [e.body() for e in mapped(domain_events)]


def test_a_body_is_compact_json_with_camel_case_names_and_utc_times():
    placed = mapped(history())[2]
    body = placed.body()
    assert body.startswith('{"id":"') and '"type":"hold.placed"' in body and '"userId":"bob"' in body
    assert f'"expiresAt":"{EXPIRES.isoformat()}"' in body and placed.to_json()["occurredAt"].endswith("+00:00")
    assert placed.expires_at - EXPIRES == timedelta(0)
