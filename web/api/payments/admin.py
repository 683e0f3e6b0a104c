"""``/api/admin/payments``: the staff's side of the money, behind the admin token (a module
of its own, so a role table can cover it as a whole).

- the box office takes cash or a card terminal's payment for a held booking: the exact amount
  while the hold lasts, else 409 ``PAYMENT_REFUSED`` with the reason, nothing recorded;
- a camt.053 bank statement imported (``{"camt053": "<xml>"}``, within the request size limit);
- a refund sent (the bank transfer made, the cash handed back) recorded against what is owed;
- the books: money per event and currency, bank credits and refunds waiting for a person, and
  whether they balance; CSV exports of orders, payments and refunds for accounting.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, abort
from flask.views import MethodView
from marshmallow import fields, validate

from application.audit.money_audit import MoneyAudit
from application.payments.books import MoneyBooks
from domain.payments import CURRENCY_EXPONENTS, METHODS, Incoming
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, COMMAND, JSON_BODY, Blueprint
from web.schemas.bookings import parse_booking_id
from web.schemas.fields import CamelCaseSchema, ResponseSchema
from web.schemas.payments import PAYMENT, PaymentSchema
from web.services import services

blp = Blueprint("payments_admin", __name__, url_prefix="/api/admin/payments", description="Payments (bearer token)")
blp.before_request(require_admin_token)

AMOUNT = validate.Range(1, 10**15)
PROVIDER_ID = validate.Regexp(r"^[\x21-\x7e]{1,100}$")


class CounterPaymentSchema(CamelCaseSchema):
    amount = fields.Integer(required=True, strict=True, validate=AMOUNT, metadata={"description": "minor units"})
    currency = fields.String(required=True, validate=validate.OneOf(list(CURRENCY_EXPONENTS)))
    method = fields.String(required=True, validate=validate.OneOf(["cash", "card_terminal"]))
    receipt = fields.String(
        required=True, validate=PROVIDER_ID, metadata={"description": "the till's or terminal's receipt number"}
    )


class RefundSentSchema(CamelCaseSchema):
    amount = fields.Integer(required=True, strict=True, validate=AMOUNT)
    method = fields.String(required=True, validate=validate.OneOf(list(METHODS)))
    provider_id = fields.String(required=True, validate=PROVIDER_ID, metadata={"description": "the transfer's id"})


class StatementSchema(CamelCaseSchema):
    camt053 = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "the XML"})


class ImportedCreditSchema(ResponseSchema):
    entry = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    reference = fields.String(allow_none=True, metadata={"description": "as the payer gave it"})
    match = fields.String(
        allow_none=True,
        metadata={"description": "paid, late, short, over, duplicate, currency, unknown; null: skipped"},
    )


class CountsSchema(ResponseSchema):
    paid = fields.Integer()
    late = fields.Integer(metadata={"description": "received after the hold ended: refunded"})
    short = fields.Integer()
    over = fields.Integer()
    duplicate = fields.Integer()
    currency = fields.Integer()
    unknown = fields.Integer()
    skipped = fields.Integer(metadata={"description": "recorded by an earlier import"})


class ImportSchema(ResponseSchema):
    counts = fields.Nested(CountsSchema())
    credits = fields.List(fields.Nested(ImportedCreditSchema()))


class EventMoneySchema(ResponseSchema):
    event_id = fields.String(attribute="show")
    currency = fields.String()
    received = fields.Integer()
    refund_requested = fields.Integer()
    refunded = fields.Integer()
    refunds_owed = fields.Integer()
    kept = fields.Integer()
    paid_orders_cost = fields.Integer()
    retained = fields.Integer(metadata={"description": "kept of cancelled bookings by the refund policy"})
    paid_bookings = fields.Integer()


class WaitingCreditSchema(ResponseSchema):
    account = fields.String()
    entry = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    reference = fields.String(allow_none=True)
    booked_on = fields.String(allow_none=True)
    reason = fields.String(attribute="match")


class BooksSchema(ResponseSchema):
    events = fields.List(fields.Nested(EventMoneySchema()))
    waiting_for_a_person = fields.List(fields.Nested(WaitingCreditSchema()))
    refunds_owed = fields.List(fields.Nested(PaymentSchema()))
    balanced = fields.Boolean()
    problems = fields.List(fields.String())


@blp.route("/<booking_id>/box-office")
class BoxOffice(MethodView):
    @blp.arguments(
        CounterPaymentSchema(),
        error_status_code=400,
        example={"amount": 9100, "currency": "EUR", "method": "cash", "receipt": "till-2-00417"},
    )
    @blp.response(200, PaymentSchema(), example={**PAYMENT, "received": 9100, "bookingStatus": "confirmed"})
    @blp.errors(*ADMIN, *JSON_BODY, *COMMAND, "BOOKING_NOT_FOUND", "INVALID_PAYMENT", "PAYMENT_REFUSED")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, paid: dict[str, Any], booking_id: str) -> Any:
        """Take a held booking's exact amount at the counter: it is confirmed; the same
        receipt again changes nothing. Late, short, over or paid already: refused."""
        incoming = Incoming(paid["amount"], paid["currency"], paid["method"], f"counter:{paid['receipt']}")
        return services().payments.pay_at_counter(parse_booking_id(booking_id), incoming)


@blp.route("/<booking_id>/refunds")
class RefundSent(MethodView):
    @blp.arguments(
        RefundSentSchema(),
        error_status_code=400,
        example={"amount": 8190, "method": "bank_transfer", "providerId": "TRF-2026-0042"},
    )
    @blp.response(200, PaymentSchema(), example={**PAYMENT, "bookingStatus": "cancelled"})
    @blp.errors(*ADMIN, *JSON_BODY, *COMMAND, "BOOKING_NOT_FOUND", "PAYMENT_NOT_FOUND", "INVALID_PAYMENT")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, sent: dict[str, Any], booking_id: str) -> Any:
        """Record a refund sent: never more than is owed; the same id again changes nothing."""
        return services().payments.refunded(
            parse_booking_id(booking_id), sent["amount"], sent["method"], sent["provider_id"]
        )


@blp.route("/statements")
class Statements(MethodView):
    @blp.arguments(StatementSchema(), error_status_code=400, example={"camt053": "<Document>…</Document>"})
    @blp.response(
        200,
        ImportSchema(),
        example={
            "counts": {**dict.fromkeys(CountsSchema().fields, 0), "paid": 1},
            "credits": [
                {"entry": "AAAASESS-FP-CN98765", "amount": 9100, "currency": "EUR",
                 "reference": PAYMENT["reference"], "match": "paid"}
            ],
        },
    )  # fmt: skip
    @blp.errors(*ADMIN, *JSON_BODY, *COMMAND, "INVALID_PAYMENT")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, statement: dict[str, Any]) -> Any:
        """Import a camt.053 statement: each booked credit matched by its creditor reference
        and amount; what is not exact waits for a person. Importing it again changes nothing."""
        summary = services().bank_import.import_statement(statement["camt053"].encode())
        credits = [
            {**line.credit.__dict__, "reference": line.credit.given, "match": line.match} for line in summary.credits
        ]
        counts = {name: summary.counts.get(name, 0) for name in CountsSchema().fields}
        return {"counts": counts, "credits": credits}


@blp.route("/books")
class Books(MethodView):
    @blp.response(
        200,
        BooksSchema(),
        example={
            "events": [
                {"eventId": "gala-2027", "currency": "EUR", "received": 18200, "refundRequested": 4550,
                 "refunded": 0, "refundsOwed": 4550, "kept": 13650, "paidOrdersCost": 9100, "retained": 4550,
                 "paidBookings": 1}
            ],
            "waitingForAPerson": [
                {"account": "DE89370400440532013000", "entry": "2026030212345678902", "amount": 9150,
                 "currency": "EUR", "reference": PAYMENT["reference"], "bookedOn": "2026-03-02", "reason": "over"}
            ],
            "refundsOwed": [{**PAYMENT, "received": 9100, "refundRequested": 4550, "bookingStatus": "cancelled"}],
            "balanced": True,
            "problems": [],
        },
    )  # fmt: skip
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self) -> Any:
        """Money per event and currency, what waits for a person, and whether the books balance."""
        ledger = services().ledger
        books = MoneyBooks(ledger)
        lines = books.payments()
        problems = MoneyAudit(ledger).verify()
        owed = [line for line in lines if line.payment.refund_owed > 0]
        return {
            "events": books.money_per_event(lines),
            "waiting_for_a_person": books.waiting_for_a_person(),
            "refunds_owed": [services().payments.details(line.booking.id) for line in owed],
            "balanced": not problems,
            "problems": problems,
        }


EXPORTS = ("orders", "payments", "refunds")


@blp.route("/export/<kind>.csv")
class Export(MethodView):
    @blp.response(
        200, {"type": "string"}, content_type="text/csv", example="event,booking_id,tier,user_id,quantity,...\r\n"
    )
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, kind: str) -> Any:
        """The paid orders, the payments received or the refunds, as CSV for accounting
        (``kind``: orders, payments, refunds; minor units)."""
        if kind not in EXPORTS:
            abort(404)
        rows = export_rows(kind, MoneyBooks(services().ledger))
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return Response(out.getvalue(), mimetype="text/csv")


def export_rows(kind: str, books: MoneyBooks) -> list[list[object]]:
    lines = books.payments()
    if kind == "orders":
        header = ["event", "booking_id", "tier", "user_id", "quantity", "status", "currency", "amount_due", "reference"]
        return [header] + [
            [p.show, p.booking.id, p.payment.tier, p.booking.user_id, p.booking.quantity, p.booking.status,
             p.payment.currency, p.payment.amount_due, p.payment.reference]
            for p in lines
        ]  # fmt: skip
    wanted = "Received" if kind == "payments" else "Refunded"
    rows: list[list[object]] = [["event", "booking_id", "at", "currency", "amount", "method", "provider_id"]]
    for line in lines:
        for event in books.ledger.aggregates.events.get(line.payment.id):
            if type(event).__name__ == wanted:
                rows.append(
                    [line.show, line.booking.id, event.timestamp.isoformat(), line.payment.currency,
                     event.amount, event.method, event.provider_id]
                )  # fmt: skip
    return rows
