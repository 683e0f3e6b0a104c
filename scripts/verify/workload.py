"""The clients: threads that book, hold, confirm, release and cancel against all the
servers until a deadline, the way real customers (and their retrying HTTP libraries) do.

Each logical request has a user id of its own, so that every booking in the store can be
traced back to the request that made it. A booking or a hold carries an
``Idempotency-Key`` about half of the time, and a third of those are sent to two servers
at the same moment: a retry that reached another host while the first attempt was still
in flight. Holds are confirmed or released at a random moment up to a little after they
expire (so confirms race the expiry process), and some are left to expire; some
confirmed bookings are cancelled, with or without a key.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from scripts.verify.client import Request, Sender
from scripts.verify.history import Attempt


@dataclass(frozen=True)
class Tier:
    code: str
    price: str
    capacity: int
    share: float  # of the new bookings and holds


@dataclass(frozen=True)
class Mix:
    """How the clients behave."""

    keyed: float = 0.5  # bookings and holds with an Idempotency-Key
    to_two_servers: float = 1 / 3  # of the keyed ones, sent to two servers at once
    holds: float = 0.35  # of the new bookings, holds rather than outright
    cancels: float = 0.15  # chance that a step cancels one of the client's confirmed bookings
    left_to_expire: float = 0.25  # holds never confirmed nor released
    confirms: float = 0.7  # of the holds acted on, confirmed (the rest released)
    max_quantity: int = 3


@dataclass
class Hold:
    booking_id: str
    user: str
    act_at: float  # monotonic


class Client:
    """One customer thread: a step at a time until the deadline or ``stop``."""

    def __init__(
        self, number: int, sender: Sender, tiers: list[Tier], mix: Mix, hold_seconds: float, rng: random.Random
    ) -> None:
        self.number = number
        self.sender = sender
        self.tiers = tiers
        self.mix = mix
        self.hold_seconds = hold_seconds
        self.rng = rng
        self.confirmed: list[tuple[str, str]] = []  # (booking id, user) acknowledged, not cancelled
        self.holds: list[Hold] = []
        self._count = 0
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"client-{number}-second")

    def run(self, until: float, stop: threading.Event) -> None:
        try:
            while time.monotonic() < until and not stop.is_set():
                self.step()
        finally:
            self._lane.shutdown(wait=True)
            self.sender.close()

    def step(self) -> None:
        due = next((h for h in self.holds if h.act_at <= time.monotonic()), None)
        if due is not None:
            self.holds.remove(due)
            self.end_hold(due)
        elif self.confirmed and self.rng.random() < self.mix.cancels:
            self.cancel(self.confirmed.pop(self.rng.randrange(len(self.confirmed))))
        else:
            self.take("hold" if self.rng.random() < self.mix.holds else "book")

    def take(self, op: str) -> None:
        """A new booking or hold, keyed or not, to one server or (keyed) two at once."""
        name = self._name()
        tier = self.rng.choices(self.tiers, [t.share for t in self.tiers])[0]
        body = {"userId": name, "tier": tier.code, "quantity": self.rng.randint(1, self.mix.max_quantity)}
        keyed = self.rng.random() < self.mix.keyed
        request = Request(name, op, body, key=f"key-{name}" if keyed else None)
        first = self.rng.randrange(len(self.sender.servers))
        if keyed and self.rng.random() < self.mix.to_two_servers:
            other = self._lane.submit(self.sender.until_definitive, request, first + 1, 1)
            answers = [self.sender.until_definitive(request, first), other.result()]
        else:
            answers = [self.sender.until_definitive(request, first)]
        acknowledged = next((a for a in answers if a.acknowledged), None)
        if acknowledged is not None:
            self._remember(op, acknowledged, name)

    def _remember(self, op: str, answer: Attempt, user: str) -> None:
        if op == "book":
            self.confirmed.append((answer.booking_id, user))
        elif self.rng.random() >= self.mix.left_to_expire:
            act_at = time.monotonic() + self.rng.uniform(0, 1.2 * self.hold_seconds)
            self.holds.append(Hold(answer.booking_id, user, act_at))

    def end_hold(self, hold: Hold) -> None:
        op = "confirm" if self.rng.random() < self.mix.confirms else "release"
        answer = self._send(Request(f"{self._name()}-{op}", op, {"userId": hold.user}, booking_id=hold.booking_id))
        if op == "confirm" and answer.acknowledged:
            self.confirmed.append((hold.booking_id, hold.user))

    def cancel(self, booking: tuple[str, str]) -> None:
        booking_id, user = booking
        name = f"{self._name()}-cancel"
        key = f"key-{name}" if self.rng.random() < 0.5 else None
        self._send(Request(name, "cancel", {"userId": user}, key=key, booking_id=booking_id))

    def _send(self, request: Request) -> Attempt:
        return self.sender.until_definitive(request, self.rng.randrange(len(self.sender.servers)))

    def _name(self) -> str:
        self._count += 1
        return f"c{self.number:02d}-{self._count:05d}"


class Runner(Protocol):
    """A client thread's body: a ``Client``, or a buyer of the paid event (``scripts/verify/paying.py``)."""

    number: int

    def run(self, until: float, stop: threading.Event) -> None: ...


def run_clients(clients: Sequence[Runner], seconds: float, stop: threading.Event, join_grace: float) -> None:
    """Run every client for ``seconds`` (each finishes the request it is on), then
    join them within ``join_grace`` more seconds; raise if one is still going."""
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=c.run, args=(until, stop), name=f"client-{c.number}", daemon=True) for c in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, until + join_grace - time.monotonic()))
    if any(t.is_alive() for t in threads):
        stop.set()
        raise RuntimeError("a client was still sending after the run and its grace period")
