"""A waiting-room flood and what it must keep when Redis fails over: buyers join the queue
one after another in each of several threads, every answer kept (when, status, body); a
fault strikes meanwhile. From that history, the tickets looked up afterwards, and the
places the new primary still had, ``judged`` tells whether the promise held:

- every buyer whose join was acknowledged (201) keeps their place: looked up by its ticket,
  it is waiting or admitted at the number and for the user the ticket says (a place the new
  primary lacks is put back from the signed ticket);
- the room's order holds: no two places the new primary kept share a number, and a buyer
  joining after everyone comes after every acknowledged buyer;
- a join sent after the fault is answered 201 within ``BACK_WITHIN`` seconds of it;
- nothing but 201 or 503 is answered meanwhile.

Shared by the black-box test (tests/e2e/test_queue_sentinel_servers.py) and ``ticketledger
verify --cluster --faults redis-lost`` (scripts/cluster/checked_store.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from scripts.harness.clients import Clients
from scripts.harness.processes import call

BACK_WITHIN = 10.0  # seconds from the fault to the first acknowledged join (issue 31's goal)
FLOODERS = 6
ROOM_TIER = "QUEUED:10.00:1000000"  # verify --cluster's waiting room's own tier: the booking clients' stay open
EXPECTED = (201, 503)  # a join is acknowledged or refused for now; anything else breaks the promise
Answer = tuple[float, float, int, dict[str, Any]]  # (sent, answered: time.monotonic(), status, body)


def place_id(ticket: str) -> str:
    """The place a ticket names (its payload is signed, not secret)."""
    payload = ticket.rpartition(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[0])


class Flood(Clients):
    """Buyers joining through ``bases`` in turn, one after another in each of ``flooders`` threads."""

    def __init__(self, bases: list[str], flooders: int = FLOODERS, prefix: str = "f") -> None:
        self.bases = bases
        self.prefix = prefix
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        super().__init__([threading.Thread(target=self._join, args=(n,), daemon=True) for n in range(flooders)])

    def _join(self, flooder: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            answer = join(self.bases[n % len(self.bases)], f"{self.prefix}{flooder}-{n}")
            with self._lock:
                self.answers.append(answer)


def join(base: str, user: str) -> Answer:
    """One buyer's join; a connection failure is status 0, a body that is not JSON (a
    balancer's own error page) status -1: neither is an answer the service may give."""
    sent = time.monotonic()
    try:
        reply = call(f"{base}/api/queue", {"userId": user}, timeout=15)
        return sent, time.monotonic(), reply.status, reply.body
    except OSError as error:
        return sent, time.monotonic(), 0, {"error": str(error)}
    except ValueError as error:
        return sent, time.monotonic(), -1, {"error": str(error)}


def acknowledged(answers: list[Answer]) -> list[dict[str, Any]]:
    return [body for _, _, status, body in answers if status == 201]


def look_up(bases: list[str], tickets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each acknowledged ticket as the service shows it now (an empty body if not 200)."""
    seen = {}
    for n, ticket in enumerate(tickets):
        reply = call(f"{bases[n % len(bases)]}/api/queue/{ticket['ticketId']}")
        seen[ticket["ticketId"]] = reply.body if reply.status == 200 else {}
    return seen


def kept_places(primary: redis.Redis, prefix: str) -> set[str]:
    """The place ids the (new) primary holds for the room under ``prefix``: read before any
    ticket is looked up, since a lookup puts a missing place back."""
    return {key.decode() for owners in primary.scan_iter(f"{prefix}:room:*:owners") for key in primary.hkeys(owners)}


@dataclass(frozen=True)
class Judged:
    acknowledged: int
    put_back: int  # acknowledged places the new primary lacked (restored from their tickets)
    lost: list[str] = field(default_factory=list)  # users acknowledged whose place is gone or changed
    order_violations: list[str] = field(default_factory=list)
    back_after: float | None = None  # seconds from the fault to the first 201 to a join sent after it
    refused: int = 0  # 503s answered after the fault
    unexpected: dict[int, int] = field(default_factory=dict)  # answers neither 201 nor 503, by status

    @property
    def held(self) -> bool:
        return (
            not self.lost
            and not self.order_violations
            and not self.unexpected
            and self.back_after is not None
            and self.back_after <= BACK_WITHIN
        )

    @staticmethod
    def loaded(saved: dict[str, Any]) -> Judged:
        """From its JSON (``dataclasses.asdict``), whose keys are strings."""
        return Judged(**{**saved, "unexpected": {int(k): n for k, n in saved["unexpected"].items()}})

    def line(self) -> str:
        back = "never" if self.back_after is None else f"+{self.back_after:.1f} s"
        odd = ", ".join(f"{status} × {n}" for status, n in sorted(self.unexpected.items())) or "none"
        return (
            f"waiting room: {self.acknowledged} joins acknowledged, {self.put_back} put back from tickets; "
            f"places lost {len(self.lost)}, order violations {len(self.order_violations)}, "
            f"first join after the fault {back} (goal ≤ {BACK_WITHIN:g} s), {self.refused} answered 503, "
            f"other answers {odd}"
        )


def judged(
    answers: list[Answer],
    fault_at: float,
    kept: set[str],
    seen: dict[str, dict[str, Any]],
    newcomer: int,
) -> Judged:
    """``answers``: the flood's history; ``fault_at``: when the fault struck (monotonic);
    ``kept``: the place ids the new primary had before any ticket was looked up; ``seen``:
    each acknowledged ticket looked up afterwards (``look_up``); ``newcomer``: the number
    of a buyer who joined after everyone."""
    tickets = acknowledged(answers)
    lost = [
        t["userId"]
        for t in tickets
        if seen.get(t["ticketId"], {}).get("state") not in ("waiting", "admitted")
        or (seen[t["ticketId"]].get("number"), seen[t["ticketId"]].get("userId")) != (t["number"], t["userId"])
    ]
    kept_numbers = Counter(t["number"] for t in tickets if place_id(t["ticketId"]) in kept)
    order = [f"{n} places kept at number {number}" for number, n in kept_numbers.items() if n > 1]
    last = max((t["number"] for t in tickets), default=0)
    if newcomer <= last:
        order.append(f"a buyer joining after everyone got number {newcomer}, not after {last}")
    after = [answered - fault_at for sent, answered, status, _ in answers if status == 201 and sent > fault_at]
    return Judged(
        acknowledged=len(tickets),
        put_back=sum(place_id(t["ticketId"]) not in kept for t in tickets),
        lost=lost,
        order_violations=order,
        back_after=min(after, default=None),
        refused=sum(status == 503 and answered > fault_at for _, answered, status, _ in answers),
        unexpected=dict(Counter(status for _, _, status, _ in answers if status not in EXPECTED)),
    )
