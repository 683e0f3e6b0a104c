"""The paying side of ``ticketledger verify --payments``: buyers of a paid event beside the
free tiers, and a hostile delivery side that brings their money in the way the world does.

A paid event (``EVENT_ID``, one tier of ``CAPACITY`` at ``PRICE``, 50 % back on cancelling)
is created through the admin API. Each buyer holds its tickets (keyed half of the time), asks
for the payment (which opens it), and pays by card (a Stripe PaymentIntent through the
official SDK, against ``scripts/harness/stripe_standin.py``), bank transfer or at the box
office. Most pay in time; some pay late, after releasing the hold or, when the run is long
enough, after the hold's deadline (so the late rule runs: received and refunded, or refused at
the counter); some never pay; some cancel what they paid for (a refund owed, sent through
Stripe for a card). Every request goes through the clients' ``Sender`` (retried to the other
server after a fault) and into the history.

The delivery side (``Delivery``), meanwhile: each Stripe ``payment_intent.succeeded`` is
delivered one to three times, each copy at a random moment, signed by the SDK's signer, with
an older or a failure event among them (any order); bank credits gather into camt.053
statements, each imported twice at once on both servers, and each repeating the last credits
of the one before (overlapping statements); each box-office receipt is sent one to three
times, the copies overlapping; a refund owed for a bank or counter payment is recorded sent,
its transfer's id sent twice. Faults strike all of it as they strike the clients.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from scripts.harness import camt053
from scripts.harness.processes import call
from scripts.harness.stripe_standin import StripeStandIn, signed
from scripts.verify.client import Request, Sender
from scripts.verify.history import Attempt

EVENT_ID = "verify-paid"
PAID_TIER = "PAID"
PRICE = "45.50"
CAPACITY = 200  # sells out in a long run, not in a short one
REFUND_PERCENT = 50
ACCOUNT = "DE89370400440532013000"
ADMIN_TOKEN = "verify-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WEBHOOK_SECRET = "whsec_verify"
PAYERS = 6  # buyer threads of the paid event, with --payments
METHODS = ("card", "bank", "box-office")
STATEMENT_EVERY = 1.5  # seconds between statements
STATEMENT_CREDITS = 12  # new credits at most per statement (a statement stays below the request size limit)
OVERLAP = 3  # credits of the previous statement that the next one repeats
LATE_MARGIN = 4.0  # seconds past a hold's deadline, at most, before its late payment comes


def service_settings(stripe_api: str) -> dict[str, str]:
    """What the servers need to take payments: the admin token (box office, statements,
    refunds) and Stripe, at its stand-in."""
    return {
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "ADMIN_AUTH_RATE_LIMIT": "",
        "STRIPE_SECRET_KEY": "sk_test_verify",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_api,
    }


def create_event(server: str, seconds_to_pay: int) -> None:
    event = {
        "eventId": EVENT_ID,
        "name": "Verify, paid",
        "tiers": [{"tier": PAID_TIER, "price": PRICE, "capacity": CAPACITY}],
        "payment": {"currency": "EUR", "secondsToPay": seconds_to_pay, "refundPercent": REFUND_PERCENT},
    }
    reply = call(f"{server}/api/admin/events", event, ADMIN)
    if reply.status != 201:
        raise RuntimeError(f"the paid event was not created: {reply.status} {reply.body}")


@dataclass(frozen=True)
class Paid:
    """A booking confirmed with its money, as the buyer was told."""

    booking_id: str
    user: str
    method: str
    amount: int


@dataclass(frozen=True)
class BuyerMix:
    keyed: float = 0.5  # holds with an Idempotency-Key
    late: float = 0.15  # pay after the hold ended
    unpaid: float = 0.1  # never pay
    cancels: float = 0.15  # chance that a step cancels a paid booking


class Delivery:
    """The world's side of the money: Stripe's webhooks, the bank's statements, the till."""

    def __init__(self, standin: StripeStandIn, sender: Callable[[int], Sender], rng: random.Random) -> None:
        """``sender(n)``: a new ``Sender`` recording as client ``n``."""
        self.standin = standin
        self.sender = sender
        self.rng = rng
        self.charged: dict[str, int] = {}  # Stripe intent -> what the buyer paid
        self._lock = threading.Condition()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._senders = itertools.count(900)
        self._closing = False
        self._dispatching = True  # False once the dispatcher has delivered everything due and ended
        self._pool = ThreadPoolExecutor(6, thread_name_prefix="delivery")
        self._running: list[Future[None]] = []
        self._credits: list[tuple[str, Paid, Callable[[Paid], None]]] = []  # entry XML, what it pays, then
        self._last: list[tuple[str, Paid, Callable[[Paid], None]]] = []
        self._statements = itertools.count(1)
        self._dispatcher = threading.Thread(target=self._dispatch, name="delivery", daemon=True)
        self._dispatcher.start()
        self.at(STATEMENT_EVERY, self._statement_tick)

    def at(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` in ``delay`` seconds (at once, here, once the delivery is closed)."""
        with self._lock:
            inline = not self._dispatching
            if not inline:
                heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), action))
                self._lock.notify()
        if inline:
            action()

    def close(self) -> None:
        """Deliver everything still due, then the last statement; raise what an action raised."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._dispatcher.join()
        for future in self._running:
            future.result()
        self._pool.shutdown(wait=True)
        while self._credits:
            self._import_statement()

    def _dispatch(self) -> None:
        with self._lock:
            while self._due or not self._closing:
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._lock.wait(wait)
                    continue
                self._running.append(self._pool.submit(heapq.heappop(self._due)[2]))
            self._dispatching = False

    def _send(self, request: Request, first: int | None = None) -> Attempt:
        sender = self.sender(next(self._senders))
        try:
            server = self.rng.randrange(len(sender.servers)) if first is None else first
            return sender.until_definitive(request, server)
        finally:
            sender.close()

    # cards

    def pay_by_card(self, paid: Paid, intent_id: str, delay: float, then: Callable[[Paid], None]) -> None:
        """The buyer pays the intent at Stripe; Stripe tells the servers one to three times,
        each copy from ``delay`` seconds on, with an older or a failure event among them."""
        self.charged[intent_id] = paid.amount
        succeeded = json.loads(self.standin.event(intent_id))
        for copy in range(self.rng.randint(1, 3)):
            self.at(delay + self.rng.uniform(0, 2.5), partial(self._webhook, paid, succeeded, copy, then))
        if self.rng.random() < 0.5:
            other = self.rng.choice(("payment_intent.created", "payment_intent.payment_failed"))
            event = json.loads(self.standin.event(intent_id, other, number=0))
            self.at(delay + self.rng.uniform(0, 2.5), partial(self._webhook, paid, event, 9, then))

    def _webhook(self, paid: Paid, event: dict[str, Any], copy: int, then: Callable[[Paid], None]) -> None:
        headers = {"Stripe-Signature": signed(json.dumps(event).encode(), WEBHOOK_SECRET)}  # the body as sent
        request = Request(f"{paid.user}-webhook-{copy}", "webhook", event, headers=headers, pays_for=(paid.booking_id,))
        answer = self._send(request)
        if answer.acknowledged and answer.body.get("match") == "paid":
            then(paid)

    # bank transfers

    def pay_by_bank(self, paid: Paid, reference: str, delay: float, then: Callable[[Paid], None]) -> None:
        """The buyer's transfer reaches the bank in ``delay`` seconds: the next statement has it."""
        amount = f"{paid.amount // 100}.{paid.amount % 100:02d}"
        entry = camt053.credit(f"V-{paid.user}", amount, reference=reference)

        def booked() -> None:
            with self._lock:
                self._credits.append((entry, paid, then))

        self.at(delay, booked)

    def _statement_tick(self) -> None:
        self._import_statement()
        if not self._closing:
            self.at(STATEMENT_EVERY, self._statement_tick)

    def _import_statement(self) -> None:
        """The next statement (new credits and the last ones of the previous), imported twice at once."""
        with self._lock:
            new, self._credits = self._credits[:STATEMENT_CREDITS], self._credits[STATEMENT_CREDITS:]
            credits, self._last = [*self._last[-OVERLAP:], *new], new or self._last
        if not new:
            return
        number = next(self._statements)
        document = camt053.statement(ACCOUNT, [entry for entry, _, _ in credits], f"VERIFY-{number}")
        pays = {f"V-{paid.user}": (paid, then) for _, paid, then in credits}
        request = Request(
            f"statement-{number}", "statement", {"camt053": document}, headers=ADMIN,
            pays_for=tuple(paid.booking_id for paid, _ in pays.values()),
        )  # fmt: skip
        twice = [in_thread(partial(self._send, request, n)) for n in range(2)]
        for answer in (imported() for imported in twice):
            for credit in answer.body["credits"] if answer.acknowledged else []:
                paid, then = pays[credit["entry"]]
                if credit["match"] == "paid":
                    then(paid)
                elif credit["match"] == "late":  # received and owed back: a person sends it
                    self.refund_sent(paid, paid.amount)

    # the box office, and refunds a person sends

    def pay_at_counter(self, paid: Paid, delay: float, then: Callable[[Paid], None]) -> None:
        """The till's receipt sent one to three times, the copies overlapping."""
        body = {"amount": paid.amount, "currency": "EUR", "method": "cash", "receipt": f"till-{paid.user}"}
        for copy in range(self.rng.randint(1, 3)):
            request = Request(
                f"{paid.user}-counter-{copy}", "box-office", body, booking_id=paid.booking_id, headers=ADMIN,
                pays_for=(paid.booking_id,),
            )  # fmt: skip
            self.at(delay + self.rng.uniform(0, 0.3), partial(self._counter, request, paid, then))

    def _counter(self, request: Request, paid: Paid, then: Callable[[Paid], None]) -> None:
        if self._send(request).acknowledged:
            then(paid)

    def refund_sent(self, paid: Paid, amount: int) -> None:
        """A person sends the refund owed and records it, the transfer's id sent twice."""
        body = {"amount": amount, "method": "bank_transfer", "providerId": f"TRF-{paid.user}"}
        for copy in range(2):
            request = Request(
                f"{paid.user}-refund-{copy}", "refund-sent", body, booking_id=paid.booking_id, headers=ADMIN
            )
            self.at(self.rng.uniform(0, 0.5), partial(self._record, request))

    def _record(self, request: Request) -> None:
        self._send(request)


class Buyer:
    """One buyer thread of the paid event: hold, open the payment, pay (or not), maybe cancel."""

    def __init__(self, number: int, sender: Sender, delivery: Delivery, mix: BuyerMix, rng: random.Random) -> None:
        self.number = number
        self.sender = sender
        self.delivery = delivery
        self.mix = mix
        self.rng = rng
        self.paid: list[Paid] = []  # confirmed with their money, not cancelled
        self._told: set[str] = set()  # the bookings the delivery side said were confirmed
        self._lock = threading.Lock()
        self._count = 0
        self._until = 0.0

    def run(self, until: float, stop: threading.Event) -> None:
        self._until = until
        try:
            while time.monotonic() < until and not stop.is_set():
                self.step(stop)
        finally:
            self.sender.close()

    def step(self, stop: threading.Event) -> None:
        with self._lock:
            cancelling = (
                self.paid.pop(self.rng.randrange(len(self.paid)))
                if self.paid and (self.rng.random() < self.mix.cancels)
                else None
            )
        if cancelling is not None:
            self.cancel(cancelling)
            return
        if not self.buy():
            stop.wait(0.2)  # sold out, or the service is down: a moment before the next try

    def buy(self) -> bool:
        self._count += 1
        name = f"p{self.number:02d}-{self._count:05d}"
        body = {"userId": name, "tier": PAID_TIER, "quantity": self.rng.randint(1, 2)}
        hold = self._send(
            Request(name, "hold", body, key=f"key-{name}" if self.rng.random() < self.mix.keyed else None)
        )
        if not hold.acknowledged:
            return False
        booking = hold.booking_id
        assert booking is not None
        opened = self._send(Request(f"{name}-payment", "payment", {}, booking_id=booking, method="GET"))
        if not opened.acknowledged:
            return False  # the hold expires at its deadline
        paid = Paid(booking, name, self.rng.choice(METHODS), opened.body["amountDue"])
        intent = None
        if paid.method == "card":
            started = self._send(Request(f"{name}-card", "card-intent", {}, booking_id=booking))
            if not started.acknowledged:
                return False
            intent = started.body["intentId"]
        fate = self.rng.choices(
            ("pay", "late", "unpaid"), (1 - self.mix.late - self.mix.unpaid, self.mix.late, self.mix.unpaid)
        )[0]
        to_deadline = datetime.fromisoformat(hold.body["expiresAt"]).timestamp() - time.time()
        past_deadline = time.monotonic() + to_deadline + LATE_MARGIN < self._until
        delay = self.rng.uniform(0, 1.5)
        if fate != "pay" and not past_deadline:  # the run ends first: the buyer lets the hold go now
            self._send(Request(f"{name}-release", "release", {"userId": name}, booking_id=booking))
        elif fate == "late":
            delay = to_deadline + self.rng.uniform(0.5, LATE_MARGIN)
        if fate == "unpaid":
            return True
        if paid.method == "card":
            assert intent is not None
            self.delivery.pay_by_card(paid, intent, delay, self.remember)
        elif paid.method == "bank":
            self.delivery.pay_by_bank(paid, opened.body["reference"], delay, self.remember)
        else:
            self.delivery.pay_at_counter(paid, delay, self.remember)
        return True

    def remember(self, paid: Paid) -> None:
        """Told by the delivery side that ``paid`` is confirmed with its money."""
        with self._lock:
            if paid.booking_id not in self._told:
                self._told.add(paid.booking_id)
                self.paid.append(paid)

    def cancel(self, paid: Paid) -> None:
        name = f"{paid.user}-cancel"
        key = f"key-{name}" if self.rng.random() < 0.5 else None
        answer = self._send(Request(name, "cancel", {"userId": paid.user}, key=key, booking_id=paid.booking_id))
        if answer.acknowledged and paid.method != "card":  # a card's refund goes back through Stripe by itself
            self.delivery.refund_sent(paid, paid.amount * REFUND_PERCENT // 100)

    def _send(self, request: Request) -> Attempt:
        return self.sender.until_definitive(request, self.rng.randrange(len(self.sender.servers)))


def in_thread(send: Callable[[], Attempt]) -> Callable[[], Attempt]:
    """Start ``send`` in a thread of its own; call what is returned to wait for its answer."""
    answer: list[Attempt] = []
    thread = threading.Thread(target=lambda: answer.append(send()), daemon=True)
    thread.start()

    def result() -> Attempt:
        thread.join()
        return answer[0]

    return result
