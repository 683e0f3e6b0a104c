"""ISO 11649 structured creditor references ("RF" references), one per paid booking.

A booking's reference is derived from its id, so it needs no table: ``RF``, two check digits
(ISO 7064 mod 97-10, computed and checked by python-stdnum), and 20 base-36 characters of a
hash of the id (about 103 bits: two bookings sharing one is out of reach). A payer types it
in their bank's "reference" field; the statement gives it back, and its check digits catch
a mistyped one before it is looked up.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LENGTH = 20


def creditor_reference(booking_id: UUID) -> str:
    """The booking's RF reference, in its compact form (``RF`` + check + 20 characters)."""
    number = int.from_bytes(hashlib.sha256(b"creditor-reference:" + booking_id.bytes).digest(), "big")
    body = ""
    for _ in range(LENGTH):
        number, digit = divmod(number, 36)
        body += DIGITS[digit]
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    return iso11649.validate(reference)


def read_reference(text: str | None) -> str | None:
    """A reference as a payer gave it (any case, spaces) in its compact form, or None if
    it is no valid RF reference (its check digits wrong, say)."""
    if not text:
        return None
    try:
        return iso11649.validate(text.upper())
    except ValidationError:
        return None
