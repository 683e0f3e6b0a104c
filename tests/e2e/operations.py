"""Every operation of the API document for ``test_documented_errors.py``: a request it accepts,
the kinds of refusal it shares with others (``refusals.KINDS``), and its own refusals, each
made by the request that meets it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from werkzeug.test import TestResponse

from application.booking.tiers import NewShow, NewTier
from domain.payments import PaymentTerms
from scripts.harness import camt053
from tests.e2e.refusals import ADMIN, Call, House, Operation, buying, get, new_tier, sent, unknown_id
from tests.e2e.staff_operations import STAFF_OPERATIONS

Own = Callable[[House], TestResponse]
USER = {"userId": "someone"}


def closed_tier(h: House) -> str:
    """A new tier whose sales are closed."""
    tier = h.tier()
    h.services.ledger.close_sales(tier)
    return tier


def purchase(
    path: str, ledger_method: str, body: Callable[[str, str, int], object], outright: bool = True
) -> Operation:
    """Booking, holding or ordering: a request it accepts, and what a sale may be refused with
    (sold ``outright``, not held: a paid tier's too)."""

    def buy(h: House, tier: str, quantity: int = 1, user: str | None = None, **headers: str) -> TestResponse:
        return h.send(Call("POST", path, body(user or h.name("user-"), tier, quantity), headers))

    def key_reused(h: House) -> TestResponse:
        tier, user = h.tier(), h.name("user-")
        buy(h, tier, 1, user, **{"Idempotency-Key": "key"})
        return buy(h, tier, 2, user, **{"Idempotency-Key": "key"})

    def without_pass(h: House) -> TestResponse:
        tier = h.tier()
        with h.room([tier]):
            return buy(h, tier)

    def pass_expired(h: House) -> TestResponse:
        tier, user = h.tier(), h.name("user-")
        with h.room([tier]) as room_id:
            return buy(h, tier, user=user, **{"Queue-Pass": h.expired_pass(room_id, user)})

    def interrupted(h: House) -> TestResponse:
        tier = h.tier()
        return h.interrupted(ledger_method, lambda user: buy(h, tier, user=user))

    return Operation(
        lambda h: Call("POST", path, body(h.name("user-"), h.tier(), 1)),
        ("body", "store", "ledger", "queue", "sale_limit"),
        {
            "TICKET_NOT_FOUND": lambda h: buy(h, "NO_SUCH_TIER"),
            "SALES_NOT_OPEN": lambda h: buy(h, h.show_tier(opens_in=3600)),
            "SALES_CLOSED": lambda h: buy(h, closed_tier(h)),
            "INSUFFICIENT_TICKETS": lambda h: buy(h, h.tier(capacity=1), quantity=2),
            "USER_LIMIT_EXCEEDED": lambda h: buy(h, h.tier(per_user_limit=1), quantity=2),
            "IDEMPOTENCY_KEY_REUSED": key_reused,
            "QUEUE_PASS_REQUIRED": without_pass,
            "QUEUE_PASS_EXPIRED": pass_expired,
            "OUTCOME_UNKNOWN": interrupted,
            **({"PAYMENT_REQUIRED": lambda h: buy(h, paid_tier(h))} if outright else {}),
        },
    )


def ending(path: str, hold: bool) -> Callable[[House], Call]:
    """Ending the user's own new booking (or hold): ``path`` with its ``{id}``."""

    def call(h: House) -> Call:
        user, booking_id = h.booking(hold=hold)
        return Call("POST", path.format(id=booking_id), {"userId": user})

    return call


def again(first: Callable[[House], Call]) -> Own:
    """The same request a second time: the second answer."""

    def drive(h: House) -> TestResponse:
        call = first(h)
        h.send(call)
        return h.send(call)

    return drive


def ended_the_other_way(end: str) -> Own:
    """Confirming a hold released first, or releasing one confirmed first."""
    other = {"confirm": "release", "release": "confirm"}[end]

    def drive(h: House) -> TestResponse:
        user, hold_id = h.booking(hold=True)
        h.send(Call("POST", f"/api/holds/{hold_id}/{other}", {"userId": user}))
        return h.send(Call("POST", f"/api/holds/{hold_id}/{end}", {"userId": user}))

    return drive


def a_year_later(call: Callable[[House], Call]) -> Own:
    def drive(h: House) -> TestResponse:
        made, now = call(h), h.services.ledger.clock()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(h.services.ledger, "clock", lambda: now + timedelta(days=365))
            return h.send(made)

    return drive


def scanning(code: str) -> Call:
    return Call("POST", "/api/checkin", {"code": code, "gate": "g"}, ADMIN)


def scan(h: House) -> Call:
    """A scan of a new booking's ticket."""
    return scanning(h.code(h.booking()[1]))


def cancel_admitted(h: House) -> TestResponse:
    """Cancelling a booking whose ticket was checked in."""
    user, booking_id = h.booking()
    assert h.send(scanning(h.code(booking_id))).status_code == 200
    return h.send(Call("POST", f"/api/bookings/{booking_id}/cancel", {"userId": user}))


def staff_cancel(h: House, hold: bool = False) -> Call:
    """The operator cancelling a user's new booking (or hold) for them."""
    _, booking_id = h.booking(hold=hold)
    return Call("POST", f"/api/admin/bookings/{booking_id}/cancel", headers=ADMIN)


def staff_cancel_with_a_bad_key(h: House) -> TestResponse:
    _, booking_id = h.booking()
    return h.send(
        Call("POST", f"/api/admin/bookings/{booking_id}/cancel", headers={**ADMIN, "Idempotency-Key": "x" * 256})
    )


def staff_cancel_admitted(h: House) -> TestResponse:
    _, booking_id = h.booking()
    assert h.send(scanning(h.code(booking_id))).status_code == 200
    return h.send(Call("POST", f"/api/admin/bookings/{booking_id}/cancel", headers=ADMIN))


def scan_cancelled(h: House) -> TestResponse:
    """A scan of a ticket whose booking was cancelled since its code was read."""
    user, booking_id = h.booking()
    code = h.code(booking_id)
    h.send(Call("POST", f"/api/bookings/{booking_id}/cancel", {"userId": user}))
    return h.send(scanning(code))


def upload(h: House) -> Call:
    _, booking_id = h.booking()
    scans = [{"scanId": "s1", "code": h.code(booking_id), "scannedAt": "2026-12-05T19:00:00+00:00"}]
    return Call("POST", "/api/checkin/uploads", {"gate": "g", "scans": scans}, ADMIN)


def new_event(h: House, tier: str | None = None, event_id: str | None = None) -> Call:
    event = {"eventId": event_id or h.name("event-").lower(), "name": "x", "tiers": [new_tier(tier or h.name("E_"))]}
    return Call("POST", "/api/admin/events", event, ADMIN)


def in_yen(call: Call) -> Call:
    """The new event ``call`` sold for yen, whose prices have no cents: its 1.50 is not whole yen."""
    event = {**call.json, "payment": {"currency": "JPY", "secondsToPay": 60, "refundPercent": 0}}
    event["tiers"] = [{**tier, "price": "1.50"} for tier in event["tiers"]]
    return replace(call, json=event)


def on_a_tier(method: str, path: str, body: object = None, headers: dict[str, str] | None = None):
    """A request on a new tier: ``path`` with its ``{tier}``."""
    return lambda h: Call(method, path.format(tier=h.tier()), body, headers or {})


def with_a_room(call: Call, store_down: bool = False) -> Own:
    def drive(h: House) -> TestResponse:
        with h.room([h.tier()]):
            if not store_down:
                return h.send(call)
            with h.store_down():
                return h.send(call)

    return drive


def lagging(h: House) -> TestResponse:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(h.apps["main"].config, "READY_MAX_LAG_SECONDS", -1.0)
        return h.send(Call("GET", "/ready"))


def replayed(path: str, invalid: str, beyond: str, headers: dict[str, str] | None = None) -> dict[str, Own]:
    """What a tier rebuilt from its events answers: ``path`` (with ``{tier}``) asked with an
    ``invalid`` query, of a tier that does not exist, or ``beyond`` its last version."""
    return {
        "VALIDATION_ERROR": lambda h: h.send(Call("GET", path.format(tier=h.tier()) + invalid, headers=headers or {})),
        "TICKET_NOT_FOUND": lambda h: h.send(Call("GET", path.format(tier="NO_SUCH_TIER"), headers=headers or {})),
        "VERSION_NOT_FOUND": lambda h: h.send(Call("GET", path.format(tier=h.tier()) + beyond, headers=headers or {})),
    }


def paid_tier(h: House) -> str:
    """A tier of a new event whose sale takes payment (45.50 EUR)."""
    tier = h.name("PAID_")
    show = NewShow(
        h.name("paid-").lower(), "x", [NewTier(tier, Decimal("45.50"), 10)], payment=PaymentTerms("EUR", 900)
    )
    h.services.ledger.create_show(show)
    return tier


def yen_tier(h: House) -> str:
    """A tier of a new event sold for yen (1500), whose prices have no cents."""
    tier = h.name("YEN_")
    show = NewShow(h.name("yen-").lower(), "x", [NewTier(tier, Decimal("1500"), 10)], payment=PaymentTerms("JPY", 900))
    h.services.ledger.create_show(show)
    return tier


def repriced(tier: str, price: str) -> Call:
    return Call("POST", f"/api/admin/tiers/{tier}/price", {"price": price}, ADMIN)


def paid_hold(h: House) -> str:
    """A new user's hold of one ticket of a paid tier."""
    tier = paid_tier(h)
    answer = h.send(Call("POST", "/api/tickets/hold", buying(h.name("user-"), tier)))
    assert answer.status_code == 201, answer.json
    return str(answer.json["holdId"])


def joining(h: House, tier: str, quantity: int = 1, **headers: str) -> Call:
    """A new user joining ``tier``'s waiting list."""
    return Call("POST", "/api/tickets/waiting-list", buying(h.name("user-"), tier, quantity), headers)


def waiting(h: House) -> dict[str, str]:
    """A new user waiting on a new sold-out tier's list: their ``userId`` and ``tier``."""
    call = joining(h, h.tier(capacity=0))
    assert h.send(call).status_code == 201
    return {"userId": call.json["userId"], "tier": call.json["tier"]}


def closed_sold_out(h: House) -> str:
    tier = h.tier(capacity=0)
    h.services.ledger.close_sales(tier)
    return tier


def join_key_reused(h: House) -> TestResponse:
    tier, user = h.tier(capacity=0), h.name("user-")
    key = {"Idempotency-Key": "key"}
    h.send(Call("POST", "/api/tickets/waiting-list", buying(user, tier, 1), key))
    return h.send(Call("POST", "/api/tickets/waiting-list", buying(user, tier, 2), key))


def at_the_counter(booking_id: str, amount: int = 4550) -> Call:
    body = {"amount": amount, "currency": "EUR", "method": "cash", "receipt": f"till-{booking_id}"}
    return Call("POST", f"/api/admin/payments/{booking_id}/box-office", body, ADMIN)


def refund_owed(h: House) -> str:
    """A paid booking cancelled by its user: its refund is owed."""
    booking_id = paid_hold(h)
    assert h.send(at_the_counter(booking_id)).status_code == 200
    user = h.services.ledger.get_booking(UUID(booking_id)).user_id
    assert h.send(Call("POST", f"/api/bookings/{booking_id}/cancel", {"userId": user})).status_code == 200
    return booking_id


def refund_sent(booking_id: str, amount: int = 4550) -> Call:
    body = {"amount": amount, "method": "bank_transfer", "providerId": f"trf-{booking_id}"}
    return Call("POST", f"/api/admin/payments/{booking_id}/refunds", body, ADMIN)


def confirm_unpaid(h: House) -> TestResponse:
    """Confirming a paid tier's hold by hand, not by its payment."""
    booking_id = paid_hold(h)
    user = h.services.ledger.get_booking(UUID(booking_id)).user_id
    return h.send(Call("POST", f"/api/holds/{booking_id}/confirm", {"userId": user}))


def a_statement(h: House) -> Call:
    """A camt.053 statement with one credit of a reference no payment has."""
    xml = camt053.statement("DE1", [camt053.credit(h.name("E"), "1.00", text="RF18 5390 0754 7034")])
    return Call("POST", "/api/admin/payments/statements", {"camt053": xml}, ADMIN)


WEBHOOK = "/api/admin/webhooks/we_0000"
PLACE = "/api/queue/{uuid}.place"
ROOM = "/api/admin/waiting-room"

PAYMENTS = "/api/admin/payments"
OPERATIONS: dict[str, Operation] = {
    "GET /api/bookings/{booking_id}/payment": Operation(
        lambda h: Call("GET", f"/api/bookings/{paid_hold(h)}/payment"),
        ("store",),
        {
            "BOOKING_NOT_FOUND": sent("GET", "/api/bookings/x/payment"),
            "INVALID_PAYMENT": lambda h: h.send(Call("GET", f"/api/bookings/{h.booking()[1]}/payment")),
        },
    ),
    f"POST {PAYMENTS}/{{booking_id}}/box-office": Operation(
        lambda h: at_the_counter(paid_hold(h)),
        ("admin", "body", "store", "ledger"),
        {
            "BOOKING_NOT_FOUND": lambda h: h.send(at_the_counter("x")),
            "INVALID_PAYMENT": lambda h: h.send(at_the_counter(h.booking()[1])),
            "PAYMENT_REFUSED": lambda h: h.send(at_the_counter(paid_hold(h), amount=1)),
        },
    ),
    f"POST {PAYMENTS}/{{booking_id}}/refunds": Operation(
        lambda h: refund_sent(refund_owed(h)),
        ("admin", "body", "store", "ledger"),
        {
            "BOOKING_NOT_FOUND": lambda h: h.send(refund_sent("x")),
            "PAYMENT_NOT_FOUND": lambda h: h.send(refund_sent(h.booking()[1])),
            "INVALID_PAYMENT": lambda h: h.send(refund_sent(refund_owed(h), amount=4551)),
        },
    ),
    f"POST {PAYMENTS}/statements": Operation(
        a_statement,
        ("admin", "body", "store", "ledger"),
        {"INVALID_PAYMENT": sent("POST", f"{PAYMENTS}/statements", {"camt053": "<x/>"}, ADMIN)},
    ),
    f"GET {PAYMENTS}/books": Operation(get(f"{PAYMENTS}/books", ADMIN), ("admin", "store")),
    f"GET {PAYMENTS}/export/{{kind}}.csv": Operation(get(f"{PAYMENTS}/export/orders.csv", ADMIN), ("admin", "store")),
    "GET /api/tickets": Operation(get("/api/tickets"), ("store",)),
    "GET /api/tickets/stream": Operation(get("/api/tickets/stream"), ("store",)),
    "POST /api/tickets/book": purchase("/api/tickets/book", "book", buying),
    "POST /api/tickets/hold": purchase("/api/tickets/hold", "hold", buying, outright=False),
    "POST /api/tickets/waiting-list": Operation(
        lambda h: Call("POST", "/api/tickets/waiting-list", buying(h.name("user-"), h.tier(capacity=0))),
        ("body", "store", "ledger", "sale_limit"),
        {
            "TICKET_NOT_FOUND": lambda h: h.send(joining(h, "NO_SUCH_TIER")),
            "TIER_NOT_SOLD_OUT": lambda h: h.send(joining(h, h.tier())),
            "ALREADY_WAITING": lambda h: again(lambda h: joining(h, h.tier(capacity=0)))(h),
            "SALES_NOT_OPEN": lambda h: h.send(joining(h, h.show_tier(opens_in=3600))),
            "SALES_CLOSED": lambda h: h.send(joining(h, closed_sold_out(h))),
            "USER_LIMIT_EXCEEDED": lambda h: h.send(joining(h, h.tier(capacity=1, per_user_limit=1), 2)),
            "IDEMPOTENCY_KEY_REUSED": join_key_reused,
        },
    ),
    "POST /api/tickets/waiting-list/leave": Operation(
        lambda h: Call("POST", "/api/tickets/waiting-list/leave", waiting(h)),
        ("body", "store", "ledger", "sale_limit"),
        {
            "TICKET_NOT_FOUND": sent("POST", "/api/tickets/waiting-list/leave", {**USER, "tier": "NO_SUCH_TIER"}),
            "NOT_ON_WAITING_LIST": lambda h: h.send(
                Call("POST", "/api/tickets/waiting-list/leave", {**USER, "tier": h.tier()})
            ),
        },
    ),
    "GET /api/users/{user_id}/waiting-list/{tier}": Operation(
        lambda h: Call("GET", "/api/users/{userId}/waiting-list/{tier}".format(**waiting(h))),
        ("store",),
        {
            "TICKET_NOT_FOUND": sent("GET", "/api/users/someone/waiting-list/NO_SUCH_TIER"),
            "NOT_ON_WAITING_LIST": lambda h: h.send(Call("GET", f"/api/users/someone/waiting-list/{h.tier()}")),
        },
    ),
    "POST /api/orders": purchase(
        "/api/orders",
        "order",
        lambda user, tier, quantity: {"userId": user, "items": [{"tier": tier, "quantity": quantity}]},
    ),
    "GET /api/orders/{order_id}": Operation(
        lambda h: Call("GET", f"/api/orders/{unknown_id()}"),
        ("store",),
        {"BOOKING_NOT_FOUND": sent("GET", "/api/orders/x")},
    ),
    "GET /api/bookings/{booking_id}": Operation(
        lambda h: Call("GET", f"/api/bookings/{unknown_id()}"),
        ("store",),
        {"BOOKING_NOT_FOUND": sent("GET", "/api/bookings/x")},
    ),
    "POST /api/bookings/{booking_id}/cancel": Operation(
        ending("/api/bookings/{id}/cancel", hold=False),
        ("body", "store", "ledger"),
        {
            "BOOKING_NOT_FOUND": sent("POST", "/api/bookings/x/cancel", USER),
            "BOOKING_ALREADY_CANCELLED": again(ending("/api/bookings/{id}/cancel", hold=False)),
            "BOOKING_NOT_CONFIRMED": lambda h: h.send(ending("/api/bookings/{id}/cancel", hold=True)(h)),
            "BOOKING_CHECKED_IN": cancel_admitted,
        },
    ),
    "POST /api/admin/bookings/{booking_id}/cancel": Operation(
        staff_cancel,
        ("admin", "bodiless", "store", "ledger", "roles"),
        {
            "BOOKING_NOT_FOUND": sent("POST", "/api/admin/bookings/x/cancel", headers=ADMIN),
            "BOOKING_ALREADY_CANCELLED": again(staff_cancel),
            "BOOKING_NOT_CONFIRMED": lambda h: h.send(staff_cancel(h, hold=True)),
            "BOOKING_CHECKED_IN": staff_cancel_admitted,
            "VALIDATION_ERROR": staff_cancel_with_a_bad_key,
        },
    ),
    **{
        f"POST /api/holds/{{hold_id}}/{end}": Operation(
            ending(f"/api/holds/{{id}}/{end}", hold=True),
            ("body", "store", "ledger", "sale_limit"),
            {
                "BOOKING_NOT_FOUND": sent("POST", f"/api/holds/x/{end}", USER),
                "HOLD_NOT_ACTIVE": ended_the_other_way(end),
                "HOLD_EXPIRED": a_year_later(ending(f"/api/holds/{{id}}/{end}", hold=True)),
                **({"PAYMENT_REQUIRED": confirm_unpaid} if end == "confirm" else {}),
            },
        )
        for end in ("confirm", "release")
    },
    "GET /api/users/{user_id}/bookings": Operation(get("/api/users/ann/bookings"), ("store",)),
    "GET /api/events": Operation(get("/api/events"), ("store",)),
    "GET /api/events/{event_id}/tickets": Operation(
        get("/api/events/main/tickets"),
        ("store",),
        {"EVENT_NOT_FOUND": sent("GET", "/api/events/no-such-event/tickets")},
    ),
    "POST /api/admin/events": Operation(
        new_event,
        ("admin", "body", "store", "roles"),
        {
            "EVENT_ALREADY_EXISTS": lambda h: again(lambda h: new_event(h, event_id="twice-" + h.name().lower()))(h),
            "TIER_ALREADY_EXISTS": lambda h: h.send(new_event(h, tier=h.tier())),
            "ORGANIZER_NOT_FOUND": lambda h: h.send(new_event(h), path="/api/admin/events?organizer=nobody"),
            "INVALID_PAYMENT": lambda h: h.send(in_yen(new_event(h))),
        },
    ),
    "GET /api/tiers/{tier}": Operation(
        on_a_tier("GET", "/api/tiers/{tier}"),
        ("store",),
        replayed("/api/tiers/{tier}", "?atVersion=1&atTime=2026-01-01T00:00:00Z", "?atVersion=99"),
    ),
    "GET /api/tiers/{tier}/history": Operation(
        on_a_tier("GET", "/api/tiers/{tier}/history"),
        ("store",),
        replayed("/api/tiers/{tier}/history", "?limit=0", "?after=99"),
    ),
    "POST /api/checkin": Operation(
        scan,
        ("body", "store", "ledger", "door"),
        {
            "INVALID_TICKET_CODE": sent("POST", "/api/checkin", {"code": "TL1.forged", "gate": "g"}, ADMIN),
            "ALREADY_CHECKED_IN": again(scan),
            "TICKET_NOT_VALID": scan_cancelled,
        },
    ),
    "POST /api/checkin/uploads": Operation(upload, ("body", "store", "ledger", "door")),
    "GET /api/checkin/tickets": Operation(get("/api/checkin/tickets", ADMIN), ("store", "door")),
    "GET /api/bookings/{booking_id}/tickets": Operation(
        lambda h: Call("GET", f"/api/bookings/{unknown_id()}/tickets"),
        ("store",),
        {"BOOKING_NOT_FOUND": sent("GET", "/api/bookings/x/tickets")},
    ),
    "GET /api/queue": Operation(get("/api/queue"), ("queue",)),
    "GET /api/queue/frontier": Operation(get("/api/queue/frontier"), ("queue",)),
    "POST /api/queue": Operation(
        lambda h: Call("POST", "/api/queue", {"userId": h.name("user-")}),
        ("body", "queue"),
        {"WAITING_ROOM_OFF": sent("POST", "/api/queue", USER)},
    ),
    **{
        f"GET /api/queue/{{ticket_id}}{tail}": Operation(
            lambda h, tail=tail: Call("GET", PLACE.format(uuid=unknown_id()) + tail),
            ("queue",),
            {"QUEUE_TICKET_NOT_FOUND": sent("GET", f"/api/queue/x{tail}")},
        )
        for tail in ("", "/stream")
    },
    f"GET {ROOM}": Operation(lambda h: Call("GET", ROOM, headers=ADMIN), ("admin", "queue")),
    f"POST {ROOM}": Operation(
        lambda h: Call("POST", ROOM, {"rate": 0, "tiers": [h.tier()]}, ADMIN),
        ("admin", "body", "queue", "store"),
        {"WAITING_ROOM_ALREADY_ON": with_a_room(Call("POST", ROOM, {"rate": 0}, ADMIN))},
    ),
    f"POST {ROOM}/rate": Operation(
        lambda h: Call("POST", f"{ROOM}/rate", {"rate": 1}, ADMIN),
        ("admin", "body", "queue"),
        {
            "WAITING_ROOM_OFF": sent("POST", f"{ROOM}/rate", {"rate": 1}, ADMIN),
            "STORE_UNAVAILABLE": with_a_room(Call("POST", f"{ROOM}/rate", {"rate": 1}, ADMIN), store_down=True),
        },
    ),
    f"POST {ROOM}/close": Operation(
        lambda h: Call("POST", f"{ROOM}/close", headers=ADMIN),
        ("admin", "bodiless", "queue"),
        {
            "WAITING_ROOM_OFF": sent("POST", f"{ROOM}/close", headers=ADMIN),
            "STORE_UNAVAILABLE": with_a_room(Call("POST", f"{ROOM}/close", headers=ADMIN), store_down=True),
        },
    ),
    f"GET {ROOM}/{{room_id}}/events": Operation(
        get(f"{ROOM}/{unknown_id()}/events", ADMIN),
        ("admin", "store"),
        {"WAITING_ROOM_NOT_FOUND": sent("GET", f"{ROOM}/x/events", headers=ADMIN)},
    ),
    "POST /api/admin/tiers": Operation(
        lambda h: Call("POST", "/api/admin/tiers", new_tier(h.name("NEW_")), ADMIN),
        ("admin", "body", "store", "roles"),
        {"TIER_ALREADY_EXISTS": lambda h: h.send(Call("POST", "/api/admin/tiers", new_tier(h.tier()), ADMIN))},
    ),
    "POST /api/admin/tiers/{tier}/capacity": Operation(
        on_a_tier("POST", "/api/admin/tiers/{tier}/capacity", {"quantity": 5}, ADMIN),
        ("admin", "body", "store", "ledger", "roles"),
        {"TICKET_NOT_FOUND": sent("POST", "/api/admin/tiers/NO_SUCH_TIER/capacity", {"quantity": 5}, ADMIN)},
    ),
    "POST /api/admin/tiers/{tier}/price": Operation(
        lambda h: repriced(h.tier(), "2.00"),
        ("admin", "body", "store", "ledger", "roles"),
        {
            "TICKET_NOT_FOUND": lambda h: h.send(repriced("NO_SUCH_TIER", "2.00")),
            "SALES_CLOSED": lambda h: h.send(repriced(closed_tier(h), "2.00")),
            "PRICE_CHANGE_REFUSED": lambda h: h.send(repriced(h.tier(), "0.00")),
            "INVALID_PAYMENT": lambda h: h.send(repriced(yen_tier(h), "1500.50")),
        },
    ),
    "POST /api/admin/tiers/{tier}/close": Operation(
        on_a_tier("POST", "/api/admin/tiers/{tier}/close", headers=ADMIN),
        ("admin", "bodiless", "store", "ledger", "roles"),
        {"TICKET_NOT_FOUND": sent("POST", "/api/admin/tiers/NO_SUCH_TIER/close", headers=ADMIN)},
    ),
    "GET /api/admin/tiers/{tier}/history": Operation(
        on_a_tier("GET", "/api/admin/tiers/{tier}/history", headers=ADMIN),
        ("admin", "store", "roles"),
        replayed("/api/admin/tiers/{tier}/history", "?limit=0", "?after=99", ADMIN),
    ),
    "GET /api/admin/tiers/{tier}/sales": Operation(
        on_a_tier("GET", "/api/admin/tiers/{tier}/sales", headers=ADMIN),
        ("admin", "store", "roles"),
        {"TICKET_NOT_FOUND": sent("GET", "/api/admin/tiers/NO_SUCH_TIER/sales", headers=ADMIN)},
    ),
    "GET /api/admin/overview": Operation(get("/api/admin/overview", ADMIN), ("admin", "store")),
    "GET /api/admin/audit": Operation(get("/api/admin/audit", ADMIN), ("admin", "store", "roles")),
    "GET /api/admin/webhooks": Operation(get("/api/admin/webhooks", ADMIN), ("admin", "store")),
    "POST /api/admin/webhooks": Operation(
        lambda h: Call("POST", "/api/admin/webhooks", {"url": "http://127.0.0.1:9/hook"}, ADMIN),
        ("admin", "body", "store"),
    ),
    "GET /api/admin/webhooks/{endpoint_id}": Operation(
        lambda h: Call("GET", WEBHOOK, headers=ADMIN),
        ("admin", "store"),
        {"WEBHOOK_NOT_FOUND": sent("GET", WEBHOOK, headers=ADMIN)},
    ),
    "GET /api/admin/webhooks/{endpoint_id}/deliveries": Operation(
        get(f"{WEBHOOK}/deliveries", ADMIN),
        ("admin", "store"),
        {
            "VALIDATION_ERROR": sent("GET", f"{WEBHOOK}/deliveries?limit=0", headers=ADMIN),
            "WEBHOOK_NOT_FOUND": sent("GET", f"{WEBHOOK}/deliveries", headers=ADMIN),
        },
    ),
    **{
        f"POST /api/admin/webhooks/{{endpoint_id}}/{change}": Operation(
            lambda h, change=change: Call("POST", f"{WEBHOOK}/{change}", headers=ADMIN),
            ("admin", "bodiless", "store"),
            {"WEBHOOK_NOT_FOUND": sent("POST", f"{WEBHOOK}/{change}", headers=ADMIN)},
        )
        for change in ("pause", "resume")
    },
    "POST /api/admin/webhooks/{endpoint_id}/replay": Operation(
        lambda h: Call("POST", f"{WEBHOOK}/replay", {"after": 0}, ADMIN),
        ("admin", "body", "store"),
        {"WEBHOOK_NOT_FOUND": sent("POST", f"{WEBHOOK}/replay", {"after": 0}, ADMIN)},
    ),
    "GET /api/feed": Operation(
        get("/api/feed", ADMIN),
        ("feed", "store"),
        {"VALIDATION_ERROR": sent("GET", "/api/feed?limit=0", headers=ADMIN)},
    ),
    "GET /health": Operation(get("/health")),
    "GET /ready": Operation(get("/ready"), ("store",), {"PROJECTION_LAGGING": lagging}),
    "GET /metrics": Operation(get("/metrics")),  # the lag is left out while the store is away
}
OPERATIONS.update(STAFF_OPERATIONS)  # issue 34's: tests/e2e/staff_operations.py
