"""Credentials that are not a person: API keys for automation and the door's scanner
devices. Each acts for one organizer with one role (a device: the door, at one event),
until it expires or is revoked. Only the SHA-256 of its secret is kept: the secret is
shown once, when it is issued.

A device's id is the actor of the scans it makes (``device:<id>``); a key's, of the
commands it sends (``key:<id>``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStaffError

KINDS = ("key", "device")
DEVICE = "device:"  # how a device's actor begins (``Credential.actor``)


def device_named(actor: str | None) -> str | None:
    """The id of the door device ``actor`` names (``device:<id>``); None for anyone else."""
    return actor[len(DEVICE) :] if actor and actor.startswith(DEVICE) else None


class Credential(Aggregate):
    """An API key or a door device."""

    class Issued(Aggregate.Created):
        kind: str
        name: str
        organizer: str
        role: str
        event_code: str | None  # a device's event; a key: None (all of the organizer's)
        secret_hash: str
        expires_at: datetime | None
        actor: str
        gate: str | None = None  # a device's gate, where its page opens; None for a key

    @classmethod
    def issue(
        cls,
        credential_id: UUID,
        kind: str,
        name: str,
        organizer: str,
        role: str,
        event_code: str | None,
        secret_hash: str,
        expires_at: datetime | None,
        actor: str,
        gate: str | None = None,
    ) -> Credential:
        if kind not in KINDS:
            raise InvalidStaffError(f"A credential is one of {KINDS}.")
        if not name.strip() or len(name) > 100 or any(ord(c) < 32 for c in name):
            raise InvalidStaffError("A name is 1 to 100 characters, no control characters.")
        if (kind == "device") != (event_code is not None):
            raise InvalidStaffError("A device scans at one event; a key acts for the whole organizer.")
        placed = {"gate": gate} if gate else {}  # a key's event is as it was before devices
        return cls._create(
            cls.Issued,
            id=credential_id,
            kind=kind,
            name=name,
            organizer=organizer,
            role=role,
            event_code=event_code,
            secret_hash=secret_hash,
            expires_at=expires_at,
            actor=actor,
            **placed,
        )

    @event(Issued)
    def __init__(
        self,
        kind: str,
        name: str,
        organizer: str,
        role: str,
        event_code: str | None,
        secret_hash: str,
        expires_at: datetime | None,
        actor: str,
        gate: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.organizer = organizer
        self.role = role
        self.event_code = event_code
        self.secret_hash = secret_hash
        self.expires_at = expires_at
        self.gate = gate
        self.revoked_at: datetime | None = None

    def revoke(self, now: datetime, actor: str) -> None:
        if self.revoked_at is None:
            self._revoke(now, actor)

    @event("Revoked")
    def _revoke(self, now: datetime, actor: str) -> None:
        self.revoked_at = now

    def valid(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"
