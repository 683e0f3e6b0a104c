"""``/api/bookings/<id>/tickets``: a booking's tickets, each with its signed code and that
code as a QR code (SVG, from ``segno``), as the booking page and the confirmation email
show them. Only a confirmed booking's seats are tickets; in token mode only its user sees them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from application import no_booking
from application.checkin.qr import qr_svg
from domain.bookings import BookingStatus
from domain.tickets import TicketRef
from web.api.door.examples import BOOKING_TICKETS
from web.identity.users import token_user, user_endpoint
from web.openapi.apidoc import Blueprint
from web.schemas.bookings import parse_booking_id
from web.schemas.fields import ResponseSchema
from web.services import services

blp = Blueprint("booking_tickets", __name__, url_prefix="/api", description="Tickets")


class BookingTicketSchema(ResponseSchema):
    ticket_id = fields.UUID()
    seat = fields.Integer()
    tier = fields.String()
    code = fields.String(metadata={"description": "signed (Ed25519): what the door scans"})
    checked_in_at = fields.DateTime(format="iso", allow_none=True)
    gate = fields.String(allow_none=True)
    qr_svg = fields.String(metadata={"description": "the code as a QR code, an inline SVG element"})


@blp.route("/bookings/<booking_id>/tickets")
class BookingTickets(MethodView):
    @user_endpoint
    @blp.response(200, BookingTicketSchema(many=True), example=BOOKING_TICKETS)
    @blp.errors("BOOKING_NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self, booking_id: str) -> Any:
        """A booking's tickets, one per seat, as they are now (read from the ledger, so a
        booking just made has them): none unless it is confirmed."""
        found = parse_booking_id(booking_id)
        booking = services().ledger.find_booking(found)
        reader = token_user()
        if booking is None or (reader is not None and not booking.belongs_to(reader)):
            raise no_booking(found)
        if booking.status != BookingStatus.CONFIRMED:
            return []
        codes = services().door.codes
        tickets = []
        for seat in range(booking.quantity):
            ref = TicketRef(booking.id, seat)
            code = codes.sign(ref)
            first = booking.scans.get(seat, (None,))[0]
            tickets.append(
                {
                    "ticket_id": ref.ticket_id,
                    "seat": seat,
                    "tier": booking.tier,
                    "code": code,
                    "checked_in_at": first.scanned_at if first else None,
                    "gate": first.gate if first else None,
                    "qr_svg": qr_svg(code),
                }
            )
        return tickets
