"""The waiting room's promise under a Redis failover, judged from a flood's history on
hand-made histories: each check fires on the history that breaks it, and none on one that
keeps it."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from typing import Any

from scripts.verify.queue_flood import Answer, Judged, judged, place_id

FAULT = 100.0


def ticket(place: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps([place, "room", 1]).encode()).decode().rstrip("=")
    return f"{payload}.signature"


def joined(at: float, user: str, number: int, sent: float | None = None) -> Answer:
    body = {"ticketId": ticket(f"p-{user}"), "userId": user, "number": number}
    return at - 0.1 if sent is None else sent, at, 201, body


def shown(answer: Answer, **changed: Any) -> dict[str, Any]:
    body = answer[3]
    return {"state": "waiting", "number": body["number"], "userId": body["userId"], **changed}


BEFORE = [joined(98.0, "a", 1), joined(99.0, "b", 2), joined(99.9, "c", 3)]
AFTER = [(100.9, 101.0, 503, {"error": {}}), joined(104.0, "d", 4)]
HISTORY = BEFORE + AFTER
KEPT = {"p-a", "p-b", "p-d"}  # c's place was among the primary's last writes, put back from its ticket


def seen_all(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a[3]["ticketId"]: overrides.get(a[3]["userId"], shown(a)) for a in HISTORY if a[2] == 201}


def test_a_history_that_keeps_the_promise_holds():
    found = judged(HISTORY, FAULT, KEPT, seen_all(), newcomer=5)
    assert found.held, found
    assert (found.acknowledged, found.put_back, found.refused, found.back_after) == (4, 1, 1, 4.0)


def test_the_ticket_names_its_place():
    assert place_id(ticket("p-x")) == "p-x"


def test_a_place_gone_or_moved_is_lost():
    found = judged(HISTORY, FAULT, KEPT, seen_all(c={}, b=shown(BEFORE[1], number=7)), newcomer=5)
    assert found.lost == ["b", "c"] and not found.held


def test_an_expired_place_is_lost():
    found = judged(HISTORY, FAULT, KEPT, seen_all(a=shown(BEFORE[0], state="expired")), newcomer=5)
    assert found.lost == ["a"]


def test_two_kept_places_at_one_number_break_the_order():
    history = [*HISTORY, joined(105.0, "e", 4)]
    seen = {**seen_all(), history[-1][3]["ticketId"]: shown(history[-1])}
    found = judged(history, FAULT, {*KEPT, "p-e"}, seen, newcomer=6)
    assert found.order_violations == ["2 places kept at number 4"] and not found.held


def test_a_newcomer_before_an_acknowledged_buyer_breaks_the_order():
    found = judged(HISTORY, FAULT, KEPT, seen_all(), newcomer=3)
    assert len(found.order_violations) == 1 and not found.held


def test_joins_back_later_than_ten_seconds_miss_the_goal():
    late = [*BEFORE, (100.9, 101.0, 503, {}), joined(111.5, "d", 4)]
    found = judged(late, FAULT, KEPT, seen_all(), newcomer=5)
    assert found.back_after == 11.5 and not found.held


def test_a_join_sent_before_the_fault_does_not_show_joins_back():
    history = [*BEFORE, joined(100.5, "x", 4, sent=99.9), (100.9, 101.0, 503, {})]
    found = judged(history, FAULT, KEPT, seen_all(), newcomer=5)
    assert found.back_after is None and not found.held


def test_joins_never_back_miss_the_goal():
    found = judged([*BEFORE, (100.9, 101.0, 503, {})], FAULT, KEPT, seen_all(), newcomer=5)
    assert found.back_after is None and not found.held


def test_an_answer_neither_201_nor_503_breaks_the_promise():
    history = [*HISTORY, (101.9, 102.0, 500, {}), (102.4, 102.5, 0, {}), (102.9, 103.0, -1, {})]
    found = judged(history, FAULT, KEPT, seen_all(), newcomer=5)
    assert found.unexpected == {500: 1, 0: 1, -1: 1} and not found.held


def test_a_judged_room_is_read_back_as_saved():
    found = judged([*HISTORY, (102.0, 102.1, 500, {})], FAULT, KEPT, seen_all(c={}), newcomer=5)
    assert Judged.loaded(json.loads(json.dumps(asdict(found)))) == found
