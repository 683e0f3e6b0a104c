"""The money of a ``--payments`` run, read from the payments' and bank credits' own events
(never through the service, nor through ``MoneyBooks``), and checked: no ticket without its
money, no money without its ticket or its refund, no refund above what was received, no
payment applied twice, and the books of every event balanced to the cent.

Three views are compared. The store's events (``MoneyRecord.payments``, ``credits``, the
paid tiers' bookings in ``scripts.verify.store``); what the service acknowledged to the
hostile delivery side (the history's webhook, box-office and statement answers); and what
Stripe's stand-in charged and refunded, the card money as the outside world holds it.
``MoneyAudit``'s own verdict is kept beside them (``audit``) and reported too, but no check
rests on it alone.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.payments.books import MoneyBooks
from domain.bank_credits import BankCredit
from domain.payments import LEFT_FOR_A_PERSON, Payment
from domain.shows import DEFAULT_SHOW
from domain.tiers import TicketTier
from scripts.verify.anomaly import Anomaly
from scripts.verify.history import Attempt
from scripts.verify.store import Store, recorded_events

KINDS = {
    "ticket-without-money": "a ticket of a paid tier sold outright, or confirmed without exactly its amount received",
    "money-without-ticket": "money received (by the store, or acknowledged to the payer) that is neither a ticket "
    "nor refunded (owed or sent), or a bank credit left waiting for a person",
    "refund-above-received": "more refunded (requested, sent, or at Stripe) than was received",
    "payment-applied-twice": "one provider's payment (card intent, till receipt, bank entry) applied twice, or a "
    "booking paid more than once",
    "money-unbalanced": "an event's money does not add up to the cent (received - refunds = paid orders + what "
    "cancellations kept), or MoneyAudit found a problem",
}
PAYMENT_EVENTS = (Payment.Opened, Payment.Received, Payment.RefundRequested, Payment.Refunded)


@dataclass(frozen=True)
class Movement:
    """Money in or out of one payment: minor units, the method (or a refund's reason), the provider's id."""

    amount: int
    how: str
    provider_id: str | None
    at: float


@dataclass
class StoredPayment:
    payment_id: str
    booking_id: str
    tier: str
    amount_due: int
    currency: str
    refund_percent: int
    received: list[Movement] = field(default_factory=list)
    refunds_requested: list[Movement] = field(default_factory=list)
    refunds_sent: list[Movement] = field(default_factory=list)

    def total(self, movements: str) -> int:
        return sum(m.amount for m in getattr(self, movements))


@dataclass(frozen=True)
class StoredCredit:
    account: str
    entry: str
    amount: int
    match: str
    payment_id: str | None

    @property
    def provider_id(self) -> str:
        return f"bank:{self.account}:{self.entry}"  # as application.payments.bank applies it


@dataclass
class MoneyRecord:
    """The store's money, and Stripe's as its stand-in saw it."""

    payments: dict[str, StoredPayment] = field(default_factory=dict)  # by booking id
    credits: list[StoredCredit] = field(default_factory=list)
    paid_tiers: dict[str, str] = field(default_factory=dict)  # tier -> its event (show)
    audit: list[str] = field(default_factory=list)  # MoneyAudit.verify(), for the record
    charged: dict[str, int] = field(default_factory=dict)  # Stripe intent -> what the buyer paid
    stripe_refunded: dict[str, int] = field(default_factory=dict)  # Stripe intent -> refunded at Stripe


def save(record: MoneyRecord, path: Path) -> None:
    path.write_text(json.dumps(asdict(record)))


def load(path: Path) -> MoneyRecord:
    data = json.loads(path.read_text())
    moves = ("received", "refunds_requested", "refunds_sent")
    payments = {
        booking: StoredPayment(**{**p, **{m: [Movement(**x) for x in p[m]] for m in moves}})
        for booking, p in data["payments"].items()
    }
    return MoneyRecord(
        payments,
        [StoredCredit(**c) for c in data["credits"]],
        data["paid_tiers"],
        data["audit"],
        data["charged"],
        data["stripe_refunded"],
    )


def read_money(ledger: BookingLedger, tiers: Iterable[str]) -> MoneyRecord:
    """Every payment and bank credit, event by event, and the tiers that take payment."""
    record = MoneyRecord(audit=MoneyAudit(ledger).verify())
    shows = MoneyBooks(ledger).show_of_tiers()
    for code in tiers:
        tier = ledger.find_tier(code)
        if isinstance(tier, TicketTier) and tier.payment_terms is not None:
            record.paid_tiers[code] = shows.get(code, DEFAULT_SHOW)
    by_payment: dict[str, StoredPayment] = {}
    for event in recorded_events(ledger, (*PAYMENT_EVENTS, BankCredit.Recorded)):
        at = event.timestamp.timestamp()
        if isinstance(event, BankCredit.Recorded):
            named = str(event.payment_id) if event.payment_id else None
            record.credits.append(StoredCredit(event.account, event.entry, event.amount, event.match, named))
        elif isinstance(event, Payment.Opened):
            by_payment[str(event.originator_id)] = StoredPayment(
                str(event.originator_id), str(event.booking_id), event.tier, event.amount_due, event.currency,
                event.refund_percent,
            )  # fmt: skip
        else:
            payment = by_payment[str(event.originator_id)]
            if isinstance(event, Payment.Received):
                payment.received.append(Movement(event.amount, event.method, event.provider_id, at))
            elif isinstance(event, Payment.RefundRequested):
                payment.refunds_requested.append(Movement(event.amount, event.reason, None, at))
            else:
                payment.refunds_sent.append(Movement(event.amount, event.method, event.provider_id, at))
    record.payments = {p.booking_id: p for p in by_payment.values()}
    return record


def check_money(attempts: list[Attempt], store: Store, money: MoneyRecord) -> list[Anomaly]:
    return [
        *tickets_without_money(store, money),
        *money_without_tickets(store, money),
        *acknowledged_money(attempts, money),
        *refunds_above_received(money),
        *applied_twice(money),
        *event_books(store, money),
    ]


def kept_by(payment: StoredPayment, status: str) -> int:
    """What a payment must keep, its booking being ``status``: all of it confirmed, the policy's
    share cancelled, nothing otherwise (a hold that ended: a late payment goes back whole)."""
    received = payment.total("received")
    return {"confirmed": payment.amount_due, "cancelled": received - received * payment.refund_percent // 100}.get(
        status, 0
    )


def tickets_without_money(store: Store, money: MoneyRecord) -> Iterable[Anomaly]:
    paid_seats: Counter[str] = Counter()
    for booking in store.bookings.values():
        if booking.tier not in money.paid_tiers:
            continue
        if not booking.held:
            yield Anomaly("ticket-without-money", f"booking {booking.booking_id} of paid tier {booking.tier} was sold "
                          "outright")  # fmt: skip
            continue
        confirmed = next((change.at for change in booking.changes if change.event == "HoldConfirmed"), None)
        if confirmed is None:
            continue
        payment = money.payments.get(booking.booking_id)
        received = [m.amount for m in payment.received] if payment else []
        if payment is None or received != [payment.amount_due]:
            due = payment.amount_due if payment else "no payment"
            yield Anomaly(
                "ticket-without-money",
                f"booking {booking.booking_id} of paid tier {booking.tier} was confirmed; received {received} of {due}",
            )
        elif confirmed < payment.received[0].at:  # the desk receives, then confirms, in one recording
            yield Anomaly(
                "ticket-without-money",
                f"booking {booking.booking_id} was confirmed at {confirmed:.6f}, before its money was received "
                f"at {payment.received[0].at:.6f}",
            )
        elif booking.status == "confirmed":
            paid_seats[booking.tier] += booking.quantity
    for code in money.paid_tiers:
        steps = store.tiers.get(code)
        if steps and steps[-1].sold != paid_seats[code]:
            yield Anomaly(
                "ticket-without-money",
                f"paid tier {code} has {steps[-1].sold} sold, {paid_seats[code]} confirmed with their money",
            )


def money_without_tickets(store: Store, money: MoneyRecord) -> Iterable[Anomaly]:
    for booking_id, payment in money.payments.items():
        booking = store.bookings.get(booking_id)
        status = booking.status if booking else "missing"
        kept = payment.total("received") - payment.total("refunds_requested")
        if kept > kept_by(payment, status):
            yield Anomaly(
                "money-without-ticket",
                f"payment of booking {booking_id} ({status}) keeps {kept} of {payment.total('received')} received; "
                f"its booking is worth {kept_by(payment, status)}",
            )
    received = {m.provider_id for p in money.payments.values() for m in p.received}
    for credit in money.credits:
        if credit.match in LEFT_FOR_A_PERSON:
            yield Anomaly(
                "money-without-ticket",
                f"bank credit {credit.entry} of {credit.amount} waits for a person ({credit.match})",
            )
        elif credit.match in ("paid", "late") and credit.provider_id not in received:
            yield Anomaly("money-without-ticket", f"bank credit {credit.entry} was matched {credit.match}, but "
                          "no payment received it")  # fmt: skip
    for intent, amount in money.charged.items():
        if intent not in received:
            yield Anomaly("money-without-ticket", f"Stripe charged {amount} on {intent}; the store never received it")


def acknowledged_money(attempts: list[Attempt], money: MoneyRecord) -> Iterable[Anomaly]:
    """What the service told the payer it took is in the store; what it refused, it did not take."""
    received = {m.provider_id for p in money.payments.values() for m in p.received}
    for a in attempts:
        if a.op == "box-office" and a.outcome == "409 PAYMENT_REFUSED" and f"counter:{a.args['receipt']}" in received:
            yield Anomaly(
                "unexpected-answer",
                f"attempt {a.id} ({a.request}) was refused at the counter, yet the store took receipt "
                f"{a.args['receipt']}: a copy of an applied receipt is answered 200",
                (a.id,),
            )
        if not a.acknowledged:
            continue
        if a.op == "webhook" and a.body.get("match") in ("paid", "late", "applied"):
            taken = [a.args["data"]["object"]["id"]]
        elif a.op == "box-office":
            taken = [f"counter:{a.args['receipt']}"]
        elif a.op == "statement":  # the answer names each credit by the bank's entry; the account is the run's
            account = next(c.account for c in money.credits) if money.credits else ""
            taken = [f"bank:{account}:{c['entry']}" for c in a.body["credits"] if c["match"] in ("paid", "late")]
        else:
            continue
        for provider_id in taken:
            if provider_id not in received:
                yield Anomaly(
                    "money-without-ticket",
                    f"attempt {a.id} ({a.op} {a.request}) was acknowledged taking {provider_id}, "
                    "which no payment of the store received",
                    (a.id,),
                )


def refunds_above_received(money: MoneyRecord) -> Iterable[Anomaly]:
    """After every event of a payment (not only at the end), refunds sent <= requested <=
    received; and at Stripe, refunded <= charged."""
    for booking_id, p in money.payments.items():
        totals = {"received": 0, "refunds_requested": 0, "refunds_sent": 0}
        moves = [(m.at, n, kind, m.amount) for n, kind in enumerate(totals) for m in getattr(p, kind)]
        for at, _, kind, amount in sorted(moves):  # a tie in time: money in before refunds, the benign order
            totals[kind] += amount
            received, requested, sent = totals.values()
            if not sent <= requested <= received:
                yield Anomaly(
                    "refund-above-received",
                    f"payment of booking {booking_id} at {at:.6f}: received {received}, refunds requested "
                    f"{requested}, sent {sent}",
                )
                break
    for intent, refunded in money.stripe_refunded.items():
        if refunded > money.charged.get(intent, 0):
            yield Anomaly(
                "refund-above-received",
                f"Stripe refunded {refunded} of {intent}, which charged {money.charged.get(intent, 0)}",
            )


def applied_twice(money: MoneyRecord) -> Iterable[Anomaly]:
    applied = Counter(
        m.provider_id for p in money.payments.values() for m in [*p.received, *p.refunds_sent] if m.provider_id
    )
    for provider_id, times in applied.items():
        if times > 1:
            yield Anomaly("payment-applied-twice", f"{provider_id} was applied {times} times")
    for booking_id, p in money.payments.items():
        if len(p.received) > 1:
            yield Anomaly(
                "payment-applied-twice",
                f"booking {booking_id} was paid {len(p.received)} times: {[m.provider_id for m in p.received]}",
            )


def event_books(store: Store, money: MoneyRecord) -> Iterable[Anomaly]:
    """Per event and currency: received - refunds requested = paid orders + what cancellations kept."""
    kept: dict[tuple[str, str], int] = defaultdict(int)
    worth: dict[tuple[str, str], int] = defaultdict(int)
    for booking_id, p in money.payments.items():
        booking = store.bookings.get(booking_id)
        status = booking.status if booking else "missing"
        books = (money.paid_tiers.get(p.tier, DEFAULT_SHOW), p.currency)
        kept[books] += p.total("received") - p.total("refunds_requested")
        worth[books] += kept_by(p, status)
    for (show, currency), amount in kept.items():
        if amount != worth[(show, currency)]:
            yield Anomaly(
                "money-unbalanced",
                f"event {show} ({currency}) keeps {amount}; its paid orders and cancellations are worth "
                f"{worth[(show, currency)]}",
            )
    for problem in money.audit:
        yield Anomaly("money-unbalanced", f"MoneyAudit: {problem}")


def money_lines(money: MoneyRecord) -> list[str]:
    """The summary's money: per method and per match, and the store's totals beside Stripe's."""
    methods = Counter(m.how for p in money.payments.values() for m in p.received)
    refunds = Counter(m.how for p in money.payments.values() for m in p.refunds_requested)
    matches = Counter(credit.match for credit in money.credits)

    def total(movements: str) -> int:
        return sum(p.total(movements) for p in money.payments.values())

    return [
        f"money (minor units): {len(money.payments):,} payments opened; received {total('received'):,} "
        f"({', '.join(f'{how} × {n}' for how, n in methods.most_common()) or 'none'}); refunds requested "
        f"{total('refunds_requested'):,} ({', '.join(f'{why} × {n}' for why, n in refunds.most_common()) or 'none'}), "
        f"sent {total('refunds_sent'):,}",
        f"bank credits: {', '.join(f'{match} × {n}' for match, n in matches.most_common()) or 'none'}; "
        f"Stripe charged {sum(money.charged.values()):,} on {len(money.charged)} intents, refunded "
        f"{sum(money.stripe_refunded.values()):,}",
        f"MoneyAudit: {'balanced' if not money.audit else f'{len(money.audit)} problems'}",
    ]
