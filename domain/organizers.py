"""Organizers: who runs an event. An organizer has a team (each member's role is kept on the
member, ``domain.staff``, and the organizer lists them), and owns its events and their tiers.

What belongs to whom is an ``Ownership`` per event and per tier, found by one read from
the thing's code (``owner_id``). Whatever has none belongs to the default organizer: the
default event (``main``), its tiers, and everything recorded before organizers existed.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStaffError

DEFAULT_ORGANIZER = "default"
ORGANIZER_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")


def organizer_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"organizer:{code}")


def owner_id(kind: str, code: str) -> UUID:
    """The id of the ``Ownership`` of an event (``kind`` "show") or a tier ("tier")."""
    return uuid5(NAMESPACE_URL, f"owner:{kind}:{code}")


class Organizer(Aggregate):
    """An organizer: its code, name and the ids of its team's members."""

    class Founded(Aggregate.Created):
        code: str
        name: str
        actor: str

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return organizer_id(code)

    @classmethod
    def found(cls, code: str, name: str, actor: str) -> Organizer:
        if not ORGANIZER_CODE.fullmatch(code):
            raise InvalidStaffError(f"An organizer's code must match {ORGANIZER_CODE.pattern}.")
        if not name.strip() or len(name) > 100 or any(ord(c) < 32 for c in name):
            raise InvalidStaffError("An organizer's name is 1 to 100 characters, no control characters.")
        return cls(code=code, name=name, actor=actor)

    @event(Founded)
    def __init__(self, code: str, name: str, actor: str) -> None:
        self.code = code
        self.name = name
        self.members: list[UUID] = []

    def enrol(self, member: UUID, actor: str) -> None:
        if member not in self.members:
            self._enrol(member, actor)

    @event("MemberEnrolled")
    def _enrol(self, member: UUID, actor: str) -> None:
        self.members.append(member)

    @event("MemberRemoved")
    def remove(self, member: UUID, actor: str) -> None:
        self.members.remove(member)


class Ownership(Aggregate):
    """That an event or a tier (``kind`` and ``code``) belongs to ``organizer``."""

    class Assigned(Aggregate.Created):
        kind: str
        code: str
        organizer: str
        actor: str

    @staticmethod
    def create_id(kind: str, code: str, **_: object) -> UUID:
        return owner_id(kind, code)

    @event(Assigned)
    def __init__(self, kind: str, code: str, organizer: str, actor: str) -> None:
        self.kind = kind
        self.code = code
        self.organizer = organizer
