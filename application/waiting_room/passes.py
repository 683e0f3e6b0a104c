"""The admission pass: proof, checked without any look-up, that a buyer was admitted.

A pass names the room, the user and when it ends, signed with HMAC (``itsdangerous``,
which Flask already depends on) under the key the queue store shares between all
processes. Booking checks the signature, the room, the user and the time: a pass
cannot be forged, moved to another user or another sale, or used after it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from application.errors import QueuePassExpiredError, QueuePassRequiredError

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

    def check(self, token: str | None, room_id: str, user_id: str, now: float) -> None:
        """Raise unless ``token`` is a pass of this room, for this user, still valid at ``now``."""
        if not token:
            raise QueuePassRequiredError(
                "A waiting room is on for this sale: join the queue (POST /api/queue) "
                "and book with the pass it gives you (Queue-Pass header)."
            )
        admission = self.read(token)
        if admission is None:
            raise QueuePassRequiredError("This queue pass is not valid: join the queue (POST /api/queue).")
        if admission.room_id != room_id:
            raise QueuePassRequiredError("This queue pass is for an earlier sale: join the queue (POST /api/queue).")
        if admission.user_id != user_id:
            raise QueuePassRequiredError("This queue pass belongs to another user: join the queue (POST /api/queue).")
        if now >= admission.expires_at:
            ended = datetime.fromtimestamp(admission.expires_at, UTC).isoformat(timespec="seconds")
            raise QueuePassExpiredError(f"Your queue pass expired at {ended}: join the queue again (POST /api/queue).")

    def read(self, token: str) -> Pass | None:
        """The pass, or ``None`` if the token is not one this service signed."""
        try:
            room_id, user_id, expires_at = self._serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        return Pass(room_id, user_id, expires_at)
