"""Signed ticket codes: what the QR code on a ticket holds.

A code is ``TL1.`` and the URL-safe base64 of the ticket's payload (its booking's id and
seat, ``domain.tickets.TicketRef``) followed by an Ed25519 signature of it: 116
characters, and only in that one spelling (``read_code``). A scanner holding only the
public key (``publicKey`` of ``GET /api/checkin/tickets``) tells a real code from a forged
or mistyped one offline; only the ledger, holding the private key, can make one.

The key pair is derived (HKDF-SHA256) from the idempotency secret, which every process of
one store already shares (``application/booking/idempotency.py``): no second secret to
distribute, and a ticket signed by one server is checked by any other. Changing that
secret changes the key, so tickets issued before no longer verify: re-issue them.
"""

from __future__ import annotations

import base64
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from application.errors import InvalidTicketCodeError
from domain.tickets import PAYLOAD_SIZE, TicketRef

PREFIX = "TL1."
# What a code we did not sign is answered, and a ticket of another event at a door device:
# the device learns nothing of the other event (``application/checkin/door.py``).
NOT_A_TICKET = "This is not a ticket of this ledger (forged or mistyped)."
SIGNATURE_SIZE = 64
# 84 bytes fill 112 characters to the last bit: no padding, no spare bits, so a code's
# bytes have this one spelling and no other.
BODY_LENGTH = (PAYLOAD_SIZE + SIGNATURE_SIZE) // 3 * 4
CODE = re.compile(f"{re.escape(PREFIX)}[A-Za-z0-9_-]{{{BODY_LENGTH}}}")


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_code(code: str) -> bytes:
    """The payload and signature a code carries, if it is spelled exactly as ``sign`` spells
    it; ``ValueError`` for anything else. A lenient decoder skips characters outside the
    alphabet, so a code with one inserted (or padding, or ``+`` for ``-``) would pass."""
    if CODE.fullmatch(code) is None:
        raise ValueError("not spelled as a ticket code")
    return base64.b64decode(code[len(PREFIX) :], altchars=b"-_", validate=True)


class TicketCodes:
    """Signs tickets and checks their codes with a key pair derived from ``secret``."""

    def __init__(self, secret: bytes) -> None:
        seed = HKDF(hashes.SHA256(), 32, salt=None, info=b"ticket-ledger ticket signing key").derive(secret)
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key: Ed25519PublicKey = self._key.public_key()

    def public_key_text(self) -> str:
        """The public key, raw, in URL-safe base64: what a scanner needs to check codes."""
        return encode(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, ticket: TicketRef) -> str:
        payload = ticket.payload()
        return PREFIX + encode(payload + self._key.sign(payload))

    def sign_bytes(self, data: bytes) -> str:
        """A detached signature of ``data`` (the offline ticket list), URL-safe base64."""
        return encode(self._key.sign(data))

    def verify(self, code: str) -> TicketRef:
        """The ticket a code names; ``InvalidTicketCodeError`` if it is not one we signed."""
        try:
            data = read_code(code)
            payload, signature = data[:PAYLOAD_SIZE], data[PAYLOAD_SIZE:]
            self.public_key.verify(signature, payload)
            return TicketRef.from_payload(payload)
        except (ValueError, InvalidSignature):
            raise InvalidTicketCodeError(NOT_A_TICKET) from None
