"""A member of staff: the person behind a sign-in (email, password hash, second factor),
the browser sessions they hold, and the roles they have at each organizer.

Secrets never enter the domain in clear: the application hashes passwords (argon2) and
session and reset tokens (SHA-256) before a command sees them. Every event names its
``actor`` (``member:<id>`` or ``operator``), so the store answers who did what.

A member's id comes from their email (``member_id``), so a sign-in finds the account by
one read and two accounts cannot share an email.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStaffError

OPERATOR = "operator"  # the actor of what the holder of ADMIN_TOKEN does


class Role(StrEnum):
    """What a member may do at one organizer (docs/security.md's table says what each allows)."""

    OWNER = "owner"
    MANAGER = "manager"
    BOX_OFFICE = "box_office"
    DOOR = "door"
    VIEWER = "viewer"


def normal_email(email: str) -> str:
    """An email as an account is known by: trimmed, lower case; a name, ``@``, a domain, no blanks."""
    text = email.strip().lower()
    local, at, domain = text.rpartition("@")
    if not (at and local and domain and len(text) <= 254) or any(c.isspace() or ord(c) < 32 for c in text):
        raise InvalidStaffError("An email is name@domain, at most 254 characters.")
    return text


def member_id(email: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"member:{normal_email(email)}")


def member_actor(member: UUID) -> str:
    return f"member:{member}"


class Member(Aggregate):
    """A member of staff. ``sessions`` maps each open session's token hash to when it ends."""

    class Joined(Aggregate.Created):
        email: str
        password_hash: str | None  # None until the member sets one (an invitation)
        actor: str

    @staticmethod
    def create_id(email: str, **_: object) -> UUID:
        return member_id(email)

    @classmethod
    def join(cls, email: str, password_hash: str | None, actor: str) -> Member:
        return cls(email=normal_email(email), password_hash=password_hash, actor=actor)

    @event(Joined)
    def __init__(self, email: str, password_hash: str | None, actor: str) -> None:
        self.email = email
        self.password_hash = password_hash
        self.totp_secret: str | None = None
        self.last_totp_step = 0  # a one-time code is accepted once
        self.sessions: dict[str, datetime] = {}
        self.reset: tuple[str, datetime] | None = None  # a password reset's token hash, until when
        self.roles: dict[str, Role] = {}

    @event("PasswordChanged")
    def change_password(self, password_hash: str, actor: str) -> None:
        """A new password ends every session and any pending reset."""
        self.password_hash = password_hash
        self.sessions = {}
        self.reset = None

    @event("SecondFactorEnabled")
    def enable_second_factor(self, totp_secret: str, step: int, actor: str) -> None:
        self.totp_secret = totp_secret
        self.last_totp_step = step

    def sign_in(self, session_hash: str, expires_at: datetime, totp_step: int, now: datetime) -> None:
        if totp_step and totp_step <= self.last_totp_step:
            raise InvalidStaffError("That one-time code was used already.")
        self._sign_in(session_hash, expires_at, totp_step, now)

    @event("SignedIn")
    def _sign_in(self, session_hash: str, expires_at: datetime, totp_step: int, now: datetime) -> None:
        self.sessions = {h: end for h, end in self.sessions.items() if end > now}
        self.sessions[session_hash] = expires_at
        self.last_totp_step = max(self.last_totp_step, totp_step)

    @event("SignedOut")
    def sign_out(self, session_hash: str) -> None:
        self.sessions.pop(session_hash, None)

    @event("SignedOutEverywhere")
    def sign_out_everywhere(self, actor: str) -> None:
        self.sessions = {}

    def session_open(self, session_hash: str, now: datetime) -> bool:
        ends = self.sessions.get(session_hash)
        return ends is not None and ends > now

    @event("PasswordResetRequested")
    def request_reset(self, token_hash: str, expires_at: datetime) -> None:
        self.reset = (token_hash, expires_at)

    @event("RoleGranted")
    def grant(self, organizer: str, role: str, actor: str) -> None:
        self.roles[organizer] = Role(role)

    def revoke(self, organizer: str, actor: str) -> None:
        if organizer not in self.roles:
            raise InvalidStaffError("The member has no role there.")
        self._revoke(organizer, actor)

    @event("RoleRevoked")
    def _revoke(self, organizer: str, actor: str) -> None:
        del self.roles[organizer]
