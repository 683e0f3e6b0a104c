"""A queue ticket's stream sends a new state at once, a new place at most every 5 s."""

from __future__ import annotations

from application.queue_ticket import ADMITTED, SOLD_OUT, WAITING, TicketStatus
from web.queue import PLACE_EVERY_SECONDS, changes_of


def test_a_new_state_is_sent_at_once_and_a_new_place_only_every_few_seconds():
    now, tickets = [0.0], iter([(WAITING, 40), (WAITING, 30), (WAITING, 20), (ADMITTED, 0), (SOLD_OUT, None)])
    current: list[TicketStatus] = []

    def read() -> TicketStatus:
        state, position = next(tickets)
        current[:] = [TicketStatus("t", "u", state, "", position=position)]
        return current[0]

    latest = changes_of(read, lambda ticket: f"{ticket.state}@{ticket.position}", clock=lambda: now[0])
    lines = [latest()]
    now[0] = 0.5
    lines.append(latest())  # a place moved: not yet
    now[0] = PLACE_EVERY_SECONDS
    lines.append(latest())  # now it is sent
    now[0] += 0.5
    lines += [latest(), latest()]  # admitted, then sold out: at once
    assert lines == ["waiting@40", "waiting@40", "waiting@20", "admitted@0", "soldOut@None"]
