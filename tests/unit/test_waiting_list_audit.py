"""The audit's replay of a tier's waiting list: a true history is clean, and each invariant
of the list, broken by an event written in by hand, is named at that event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from application.audit.tier_audit import Replay
from domain.tiers import TicketTier

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def story() -> tuple[TicketTier, list[Any]]:
    """A tier of one, sold; ann and bob wait; the ticket comes back and is offered to ann."""
    tier = TicketTier.open("GA", Decimal("1.00"), 1)
    first = uuid4()
    tier.book(first, "x", 1)
    tier.join_waiting_list(uuid4(), "ann", 1, NOW)
    tier.join_waiting_list(uuid4(), "bob", 1, NOW)
    tier.release(first, 1, "x", now=NOW)
    return tier, list(tier.collect_events())


def replayed(events: list[Any]) -> list[str]:
    replay = Replay()
    for event in events:
        replay.apply(event)
    return [problem.message for problem in replay.problems + replay.list_problems()]


def then(tier: TicketTier, event_class: type, **fields: Any) -> Any:
    """An event of ``event_class`` written in after the tier's last, as if recorded."""
    tier.version += 1
    return event_class(originator_id=tier.id, originator_version=tier.version, timestamp=NOW, **fields)


def test_a_true_history_with_offers_lapsed_and_accepted_is_clean():
    tier, events = story()
    offer = tier.offers[0]
    tier.release_hold(offer_id(offer), "ann", 1, "expired", NOW)
    tier.confirm_hold(offer_id(tier.offers[0]), 1)
    assert replayed(events + list(tier.collect_events())) == []


def test_a_public_sale_while_anyone_waits_is_named():
    tier, events = story()
    sale = then(tier, TicketTier.TicketsBooked, booking_id=uuid4(), user_id="public", quantity=1)
    assert any("sold to the public while 1 wait" in text for text in replayed([*events, sale]))


def test_an_offer_out_of_turn_or_above_what_was_kept_is_named():
    tier = TicketTier.open("GA", Decimal("1.00"), 1)
    tier.book(uuid4(), "x", 1)
    ann, bob = uuid4(), uuid4()
    tier.join_waiting_list(ann, "ann", 1, NOW)
    tier.join_waiting_list(bob, "bob", 1, NOW)
    events = list(tier.collect_events())
    offer = then(
        tier, TicketTier.OfferMade, entry_id=bob, booking_id=uuid4(), user_id="bob", quantity=1,
        expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    problems = replayed([*events, offer])
    assert any("out of turn" in text for text in problems)
    assert any("exceeds the 0 kept" in text for text in problems)


def test_an_offer_ended_twice_or_before_its_hold_is_named():
    tier, events = story()
    offer = tier.offers[0]
    fields = {"entry_id": offer["entry_id"], "booking_id": offer_id(offer), "user_id": "ann", "quantity": 1}
    early = then(tier, TicketTier.OfferLapsed, **fields)  # its hold never ended
    assert any("not an open offer whose hold ended" in text for text in replayed([*events, early]))
    tier, events = story()
    tier.confirm_hold(offer_id(tier.offers[0]), 1)
    events += list(tier.collect_events())
    again = then(tier, TicketTier.OfferAccepted, **fields)
    assert any("not an open offer whose hold ended" in text for text in replayed([*events, again]))


def test_tickets_back_on_sale_while_anyone_waits_and_tickets_left_on_sale_are_named():
    tier, events = story()
    back = then(tier, TicketTier.TicketsBackOnSale, quantity=1)
    assert any("back on sale" in text for text in replayed([*events, back]))
    tier = TicketTier.open("GA", Decimal("1.00"), 2)
    tier.book(uuid4(), "x", 1)
    events = list(tier.collect_events())
    joined = then(tier, TicketTier.JoinedWaitingList, entry_id=uuid4(), user_id="ann", quantity=2)  # nothing kept
    assert any("on sale while 1 wait" in text for text in replayed([*events, joined]))


def offer_id(offer: Any) -> UUID:
    return UUID(offer["booking_id"])
