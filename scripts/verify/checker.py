"""Check a recorded history against the recorded store: what the service said it did
must be what the event store holds, and everything the store holds must be accounted for
by some request.

The store is read directly (``scripts.verify.store``), never through the service, so a
service that lies consistently is still caught. Each kind of anomaly below is one promise
broken; ``check`` returns every instance it finds. The tier counter's linearizability is
checked in ``scripts.verify.linearizability``.

Attribution relies on the workload giving every logical request a user id of its own: a
booking of user U can only come from the request of U. A keyed request may have made at
most one booking (the one its key names); an unkeyed one at most one per attempt, since
each attempt that reached a server may have booked (a retry without a key is a new booking,
which is why docs/api.md tells clients to send one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from scripts.verify import linearizability, money
from scripts.verify.anomaly import Anomaly
from scripts.verify.history import Attempt, History
from scripts.verify.store import Store, StoredBooking, TierStep

KINDS = {
    "lost-receipt": "a booking or hold answered 201 is not in the event store",
    "wrong-receipt": "a 201/200 answer disagrees with what the store recorded (user, tier, quantity, kind, status), "
    "or the tier has no matching event",
    "lost-change": "a confirm, release or cancel answered 200 is not in the booking's or the tier's events",
    "key-two-ids": "one Idempotency-Key was answered with two booking ids, or with an id its key does not name",
    "key-two-bookings": "one keyed request made more than one booking, or one booking was sold or held twice",
    "unattributed-booking": "a booking in the store that no request of the history accounts for",
    "unattributed-change": "a confirm, release or cancel in the store that no request asked for, "
    "or an expiry before the hold's expiresAt",
    "books-unbalanced": "a tier's sold or held differs from its bookings, or its availability went below zero",
    "audit": "the tier audit finds a bad event (versions, double endings, replay vs aggregate)",
    "read-tables": "the read tables disagree with the events after the projection caught up",
    "hold-not-expired": "a hold still held well after its expiresAt, with the expiry process running",
    "unexpected-answer": "an answer the API does not give to a correct client (a 500, a 404 for a booking "
    "it acknowledged, IDEMPOTENCY_KEY_REUSED for the same request, ...)",
    "waiting-room": "a redis-lost fault cost an acknowledged buyer their place, broke the room's order, "
    "left joins unanswered over 10 s or was answered other than 201/503 (scripts/verify/queue_flood.py)",
    **linearizability.KINDS,
    **money.KINDS,
}
# Answers a well-behaved client can get besides the indeterminate ones (no answer, 503).
EXPECTED = {
    "book": {"201", "422 INSUFFICIENT_TICKETS"},
    "hold": {"201", "422 INSUFFICIENT_TICKETS"},
    "confirm": {"200", "409 HOLD_EXPIRED", "409 HOLD_NOT_ACTIVE"},
    "release": {"200", "409 HOLD_EXPIRED", "409 HOLD_NOT_ACTIVE"},
    "cancel": {"200", "409 BOOKING_ALREADY_CANCELLED"},  # an unkeyed retry of a cancel that was recorded
    # paying (scripts/verify/paying.py): the box office refuses a late payment, the buyer keeps the cash
    **dict.fromkeys(("payment", "card-intent", "webhook", "statement", "refund-sent"), {"200"}),
    "box-office": {"200", "409 PAYMENT_REFUSED"},
}
# QUEUE_UNAVAILABLE: a booking or hold checks the room's terms as its process last read them from
# Redis (application/recent.py: LastKnown); one whose process has not read them within
# QUEUE_TERMS_KEEP_SECONDS (Redis gone that long, or never reached) is refused before anything is written.
UNAVAILABLE = {"503 LEDGER_BUSY", "503 STORE_UNAVAILABLE", "503 OUTCOME_UNKNOWN", "503 QUEUE_UNAVAILABLE"}
# The balancer's own answers in front of the servers (verify --cluster): 502 for a request cut
# off by a server that died, 503 while no server is up, 504 for one that did not answer in time.
BALANCER = {"502", "503", "504"}
ACKNOWLEDGED_STATUS = {"confirm": "confirmed", "release": "released", "cancel": "cancelled"}
CHANGE = {
    "confirm": ("HoldConfirmed", "HoldConfirmed"),
    "release": ("HoldReleased", "HoldReleased"),
    "cancel": ("Cancelled", "TicketsReleased"),
}  # op: (the booking's event, the tier's event)
EXPIRY_GRACE = 3.0  # seconds after expiresAt by which the expiry process must have ended a hold


def check(history: History, store: Store) -> list[Anomaly]:
    attempts = history.attempts
    return [
        *unexpected_answers(attempts),
        *receipts(attempts, store),
        *changes(attempts, store),
        *idempotency(attempts, store),
        *attribution(attempts, store),
        *books(store),
        *audit_problems(store),
        *unended_holds(store),
        *linearizability.check(attempts, store),
    ]


def describe(a: Attempt) -> str:
    return f"attempt {a.id} ({a.op} {a.request} to {a.server}, key {a.key})"


def unexpected_answers(attempts: Iterable[Attempt]) -> Iterable[Anomaly]:
    for a in attempts:
        if a.status is not None and a.outcome not in EXPECTED[a.op] | UNAVAILABLE | BALANCER:
            yield Anomaly("unexpected-answer", f"{describe(a)} was answered {a.outcome}: {a.body!r:.200}", (a.id,))


def receipts(attempts: Iterable[Attempt], store: Store) -> Iterable[Anomaly]:
    """Every 201 names a booking the store holds, made as asked, with its tier's event."""
    begins = beginnings(store)
    for a in attempts:
        if a.op not in ("book", "hold") or not a.acknowledged:
            continue
        booking = store.bookings.get(a.booking_id)
        if booking is None:
            yield Anomaly(
                "lost-receipt", f"{describe(a)} got 201 for {a.booking_id}, which the store does not have", (a.id,)
            )
            continue
        asked = (a.args["userId"], a.args["tier"], a.args["quantity"], a.op == "hold")
        answered = (a.body.get("tier"), a.body.get("bookedQuantity", a.body.get("heldQuantity")))
        if (booking.user_id, booking.tier, booking.quantity, booking.held) != asked or answered != asked[1:3]:
            yield Anomaly(
                "wrong-receipt",
                f"{describe(a)} asked for {asked} and was answered {answered}; the store has {booking}",
                (a.id,),
            )
        sale = "TicketsHeld" if booking.held else "TicketsBooked"
        if not any(
            (s.event, s.user_id, s.quantity) == (sale, booking.user_id, booking.quantity)
            for s in begins.get(a.booking_id, [])
        ):
            yield Anomaly(
                "wrong-receipt",
                f"{describe(a)}: tier {booking.tier} has no {sale} of {booking.quantity} for booking {a.booking_id}",
                (a.id,),
            )


def changes(attempts: Iterable[Attempt], store: Store) -> Iterable[Anomaly]:
    """Every 200 to a confirm, release or cancel is an event of the booking and of its tier."""
    tier_events = {(s.event, s.booking_id) for steps in store.tiers.values() for s in steps}
    for a in attempts:
        if a.op not in CHANGE or not a.acknowledged:
            continue
        booking_event, tier_event = CHANGE[a.op]
        booking = store.bookings.get(a.booking_id)
        recorded = booking is not None and any(
            c.event == booking_event and (a.op != "release" or c.reason == "released") for c in booking.changes
        )
        if not recorded or (tier_event, a.booking_id) not in tier_events:
            yield Anomaly(
                "lost-change",
                f"{describe(a)} got 200, but the store has no {booking_event} of "
                f"{a.booking_id} (its status: {booking.status if booking else 'no booking'})",
                (a.id,),
            )
        if a.body.get("status") != ACKNOWLEDGED_STATUS[a.op]:
            yield Anomaly("wrong-receipt", f"{describe(a)} got 200 with status {a.body.get('status')!r}", (a.id,))


def idempotency(attempts: Iterable[Attempt], store: Store) -> Iterable[Anomaly]:
    """One key, one booking id (the one it names); one booking, one sale or hold."""
    answered: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for a in attempts:
        if a.op in ("book", "hold") and a.key is not None and a.acknowledged:
            answered[(a.args["userId"], a.key)][a.booking_id].append(a.id)
    for (user, key), ids in answered.items():
        named = store.named(user, key)
        if len(ids) > 1 or named not in ids:
            yield Anomaly(
                "key-two-ids",
                f"key {key!r} of {user} was answered with booking ids {sorted(ids)}; the key names {named}",
                tuple(i for group in ids.values() for i in group),
            )
    for booking_id, steps in beginnings(store).items():
        if len(steps) > 1:
            yield Anomaly(
                "key-two-bookings",
                f"booking {booking_id} was sold or held {len(steps)} times: tier versions {[s.version for s in steps]}",
            )


def attribution(attempts: Iterable[Attempt], store: Store) -> Iterable[Anomaly]:
    """Every booking, and every change of one, is explained by a request of the history."""
    asked: dict[str, list[Attempt]] = defaultdict(list)  # user -> the attempts of the request that user made
    follow_ups: set[tuple[str, str]] = set()  # (op, booking id) of every confirm, release, cancel sent
    for a in attempts:
        if a.op in ("book", "hold"):
            asked[a.args["userId"]].append(a)
        else:
            follow_ups.add((a.op, a.args.get("bookingId")))
            follow_ups.update(("confirm", booking_id) for booking_id in a.args.get("paysFor", ()))  # paid holds
    by_user: dict[str, list[StoredBooking]] = defaultdict(list)
    for booking in store.bookings.values():
        by_user[booking.user_id].append(booking)
    for user, bookings in by_user.items():
        yield from attribute(user, bookings, asked.get(user, []), store)
    for booking in store.bookings.values():
        yield from attribute_changes(booking, follow_ups)


def attribute(user: str, bookings: list[StoredBooking], attempts: list[Attempt], store: Store) -> Iterable[Anomaly]:
    ids = [b.booking_id for b in bookings]
    if not attempts:
        yield Anomaly("unattributed-booking", f"bookings {ids} of {user}: no request of the history was {user}'s")
        return
    first = attempts[0]
    made = {(b.tier, b.quantity, b.held) for b in bookings}
    if made != {(first.args["tier"], first.args["quantity"], first.op == "hold")}:
        yield Anomaly(
            "unattributed-booking",
            f"bookings {ids} of {user} are {made}; the request was {first.op} {first.args}",
            tuple(a.id for a in attempts),
        )
    if first.key is not None:
        named = store.named(user, first.key)
        if len(bookings) > 1:
            yield Anomaly(
                "key-two-bookings",
                f"the request with key {first.key!r} made {len(bookings)} bookings: {ids}",
                tuple(a.id for a in attempts),
            )
        elif ids != [named]:
            yield Anomaly(
                "unattributed-booking",
                f"booking {ids[0]} of {user} is not the one key {first.key!r} names ({named})",
                tuple(a.id for a in attempts),
            )
    elif len(bookings) > len(attempts):
        yield Anomaly(
            "unattributed-booking",
            f"{len(bookings)} bookings of {user} ({ids}), but only {len(attempts)} attempts of its unkeyed request",
            tuple(a.id for a in attempts),
        )


def attribute_changes(booking: StoredBooking, follow_ups: set[tuple[str, str]]) -> Iterable[Anomaly]:
    for change in booking.changes:
        if change.reason == "expired":
            if booking.expires_at is None or change.at < booking.expires_at:
                yield Anomaly(
                    "unattributed-change",
                    f"hold {booking.booking_id} expired at {change.at:.6f}, before its expiresAt {booking.expires_at}",
                )
            continue
        op = {"HoldConfirmed": "confirm", "HoldReleased": "release", "Cancelled": "cancel"}[change.event]
        if (op, booking.booking_id) not in follow_ups:
            yield Anomaly(
                "unattributed-change",
                f"booking {booking.booking_id} has {change.event} "
                f"({change.reason or ''}) but no {op} was ever sent for it",
            )


def books(store: Store) -> Iterable[Anomaly]:
    """Per tier: sold and held match the bookings; availability never below zero."""
    totals: Counter[tuple[str, str]] = Counter()
    for b in store.bookings.values():
        totals[(b.tier, b.status)] += b.quantity
    for code, steps in store.tiers.items():
        below = next((s for s in steps if s.available < 0 or s.sold + s.held > s.capacity), None)
        if below is not None:
            yield Anomaly(
                "books-unbalanced",
                f"tier {code} at version {below.version}: capacity {below.capacity}, "
                f"sold {below.sold}, held {below.held}",
            )
        last = steps[-1]
        if (last.sold, last.held) != (totals[(code, "confirmed")], totals[(code, "held")]):
            yield Anomaly(
                "books-unbalanced",
                f"tier {code} has sold {last.sold} and held {last.held}; its bookings "
                f"are {totals[(code, 'confirmed')]} confirmed and "
                f"{totals[(code, 'held')]} held",
            )


def audit_problems(store: Store) -> Iterable[Anomaly]:
    for code, problem in store.problems:
        kind = "read-tables" if problem.version is None else "audit"
        where = "" if problem.version is None else f" at version {problem.version}"
        yield Anomaly(kind, f"tier {code}{where}: {problem.message}")


def unended_holds(store: Store) -> Iterable[Anomaly]:
    for b in store.bookings.values():
        if b.status == "held" and b.expires_at is not None and b.expires_at + EXPIRY_GRACE < store.read_at:
            yield Anomaly(
                "hold-not-expired",
                f"hold {b.booking_id} was still held {store.read_at - b.expires_at:.1f} s after its expiresAt",
            )


def beginnings(store: Store) -> dict[str, list[TierStep]]:
    """Each booking id's sale or hold events (one, unless something went wrong)."""
    found: dict[str, list[TierStep]] = defaultdict(list)
    for steps in store.tiers.values():
        for s in steps:
            if s.event in ("TicketsBooked", "TicketsHeld"):
                found[s.booking_id].append(s)
    return found
