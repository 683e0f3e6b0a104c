"""The admission pass: proof, checked without any look-up, that a buyer was admitted.

A pass names the room, the user and when it ends, signed with HMAC (``itsdangerous``,
which Flask already depends on) under the key the queue store shares between all
processes. Booking checks the signature, the room, the user and the time: a pass
cannot be forged, moved to another user or another sale, or used after it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "ticket-ledger waiting room pass"


@dataclass(frozen=True)
class Pass:
    room_id: str
    user_id: str
    expires_at: float  # seconds since the epoch


class PassSigner:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def sign(self, admission: Pass) -> str:
        return self._serializer.dumps([admission.room_id, admission.user_id, admission.expires_at])

    def read(self, token: str) -> Pass | None:
        """The pass, or ``None`` if the token is not one this service signed."""
        try:
            room_id, user_id, expires_at = self._serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        return Pass(room_id, user_id, expires_at)
