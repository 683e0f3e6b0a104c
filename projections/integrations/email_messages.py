"""What a confirmation email says: its headers, and bodies rendered from a notice.

A confirmed booking (``booking.confirmed`` or ``hold.confirmed``) and a cancellation
(``booking.cancelled``) each give one message; so do a payment awaited
(``payment.awaiting``: the transfer's instructions, amount, reference, deadline and the
organizer's bank account), each refund sent (``payment.refunded``) and each waiting-list
offer (``waiting_list.offered``: the hold kept for the buyer and until when). A paid booking's
confirmation is its ``hold.confirmed``, as any hold's: ``payment.received`` mails nothing
more. The bodies, plain text and HTML, are rendered from the templates beside this module
with Jinja2; a confirmation carries the booking's tickets. The whole message, headers and
MIME boundaries included, depends only on the notice, so a message sent again is byte for
byte the same message. Sending it, once, is ``emails.py``'s business.
"""

from __future__ import annotations

import email.errors
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from application.checkin.qr import qr_png
from domain.payments import CURRENCY_EXPONENTS
from projections.integrations.notices import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    HOLD_CONFIRMED,
    PAYMENT_AWAITING,
    PAYMENT_REFUNDED,
    WAITING_LIST_OFFERED,
)

KINDS = {
    BOOKING_CONFIRMED: "confirmed",
    HOLD_CONFIRMED: "confirmed",
    BOOKING_CANCELLED: "cancelled",
    PAYMENT_AWAITING: "awaiting",
    PAYMENT_REFUNDED: "refunded",
    WAITING_LIST_OFFERED: "offered",
}
SUBJECTS = {
    "confirmed": "Your booking is confirmed: {quantity} × {tier}",
    "cancelled": "Your booking is cancelled: {quantity} × {tier}",
    "awaiting": "Please pay {money} for your booking ({tier}), reference {reference}",
    "refunded": "Refund sent: {money} for your booking ({tier})",
    "offered": "Your turn on the waiting list: {quantity} × {tier} held for you until {expiresAt}",
}
TEMPLATES = Environment(
    loader=PackageLoader("projections.integrations", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


def address(text: str) -> str | None:
    """``text`` if it is one valid email address, else None."""
    try:
        return Address(addr_spec=text).addr_spec
    except (ValueError, email.errors.MessageError):
        return None


def money(amount: int, currency: str) -> str:
    """Integer minor units as the currency writes them: ``9100, "EUR"`` → ``91.00 EUR``."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    units, minor = divmod(amount, 10**exponent)
    return f"{units}.{minor:0{exponent}d} {currency}" if exponent else f"{units} {currency}"


def compose(
    notice: dict[str, Any],
    kind: str,
    sender: str,
    recipient: str,
    tickets: Sequence[str] = (),
    bank: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The message from ``sender`` to ``recipient`` for one notice of a ``kind``; the same
    notice (and ``bank`` account, for a payment awaited) always gives the same message.
    A confirmation carries the booking's ``tickets``
    (their signed codes): in the text, and in the HTML as QR codes, PNG images sent with
    it (``cid:``: no image is fetched)."""
    message = EmailMessage()
    message["Message-ID"] = message_id(notice, kind, sender)
    message["Date"] = format_datetime(datetime.fromisoformat(notice["occurredAt"]))
    message["From"] = sender
    message["To"] = recipient
    paid = money(notice["amount"], notice["currency"]) if notice.get("amount") is not None else None
    message["Subject"] = SUBJECTS[kind].format(**notice, money=paid)
    message["X-Ticketledger-Booking"] = notice["bookingId"]
    images = [f"ticket-{n}.{notice['bookingId']}" for n in range(len(tickets))]
    shown = {"notice": notice, "tickets": list(zip(tickets, images, strict=True)), "money": paid, "bank": bank or {}}
    message.set_content(TEMPLATES.get_template(f"email_{kind}.txt").render(**shown))
    message.add_alternative(TEMPLATES.get_template(f"email_{kind}.html").render(**shown), subtype="html")
    html = message.get_payload()[1]
    for code, image in zip(tickets, images, strict=True):
        html.add_related(qr_png(code), "image", "png", cid=f"<{image}>", filename=f"{image.split('.')[0]}.png")
    # Derived, not random as the library's are, so a message sent again is byte for byte the same.
    digest = hashlib.sha256(message["Message-ID"].encode()).hexdigest()[:40]
    for n, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"=_{digest}" + (f".{n}" if n else ""))
    return message


def message_id(notice: dict[str, Any], kind: str, sender: str) -> str:
    """Derived from the booking, so that mail stores de-duplicate a message sent again; a
    refund's from the notice, as one booking may be refunded in more than one transfer."""
    domain = sender.rpartition("@")[2] or "localhost"
    about = notice["id"] if kind == "refunded" else notice["bookingId"]
    return f"<{kind}.{about}@{domain}>"
