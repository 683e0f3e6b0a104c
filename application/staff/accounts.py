"""The staff's use cases: organizers and their teams, signing in and out, the second
factor, password resets, API keys and door devices, and what belongs to which organizer.

Kept in the ledger's own store, so every web host sees a sign-out, a revocation or a new
role at its next read (the repository fast-forwards cached aggregates from the store),
and the audit reads staff events beside the sales they concern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.audit.staff_activity import recorded
from application.persistence.application import StoreApplication
from application.staff import secrets
from application.staff.errors import (
    CredentialNotFoundError,
    MemberNotFoundError,
    OrganizerAlreadyExistsError,
    OrganizerNotFoundError,
    ResetRefusedError,
    SignInRefusedError,
)
from domain.credentials import Credential
from domain.errors import InvalidStaffError
from domain.organizers import DEFAULT_ORGANIZER, Organizer, Ownership, organizer_id, owner_id
from domain.staff import OPERATOR, Member, Role, member_actor, member_id

T = TypeVar("T")
RESET_LIFETIME = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedIn:
    member: UUID
    token: str  # the session's secret, for the cookie: kept nowhere else
    expires_at: datetime


@dataclass(frozen=True)
class StaffMember:
    """A member as the web layer needs them: who, and their role at each organizer."""

    id: UUID
    email: str
    roles: dict[str, Role]
    second_factor: bool

    @property
    def actor(self) -> str:
        return member_actor(self.id)


@dataclass(frozen=True)
class IssuedCredential:
    id: UUID
    secret: str  # shown once: only its hash is kept
    expires_at: datetime | None


@dataclass(frozen=True)
class CredentialDetails:
    id: UUID
    kind: str
    name: str
    organizer: str
    role: Role
    event_code: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    gate: str | None = None  # a device's gate

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"

    def valid(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class StaffAccounts:
    """The staff's use cases over ``app``'s store (the ledger's)."""

    def __init__(self, app: StoreApplication, session_lifetime: timedelta, clock: Callable[[], datetime] = utc_now):
        self.app = app
        self.session_lifetime = session_lifetime
        self.clock = clock

    # Organizers and their teams

    def ensure_default_organizer(self) -> None:
        if self.app.aggregate(organizer_id(DEFAULT_ORGANIZER), Organizer) is None:
            try:
                self.found_organizer(DEFAULT_ORGANIZER, "Default organizer", OPERATOR)
            except OrganizerAlreadyExistsError:
                pass  # founded by another process meanwhile

    def found_organizer(self, code: str, name: str, actor: str) -> str:
        organizer = Organizer.found(code, name, actor)
        try:
            self.app.save(organizer)
        except IntegrityError:
            raise OrganizerAlreadyExistsError(f"An organizer {code!r} exists already.") from None
        return organizer.code

    def organizer(self, code: str) -> Organizer:
        found = self.app.aggregate(organizer_id(code), Organizer)
        if found is None:
            raise OrganizerNotFoundError(f"No organizer {code!r}.")
        return found

    def add_member(self, organizer_code: str, email: str, role: Role, password: str | None, actor: str) -> UUID:
        """Give ``email`` ``role`` at the organizer, making the account if there is none
        (with ``password``, or none until the member resets it: an invitation)."""
        password_hash = secrets.hash_password(password) if password is not None else None

        def attempt() -> UUID:
            organizer = self.organizer(organizer_code)
            member = self.app.aggregate(member_id(email), Member) or Member.join(email, password_hash, actor)
            member.grant(organizer.code, Role(role).value, actor)
            organizer.enrol(member.id, actor)
            self.app.save(member, organizer)
            return member.id

        return self._again_if_conflict(attempt)

    def remove_member(self, organizer_code: str, member: UUID, actor: str) -> None:
        def attempt() -> None:
            organizer = self.organizer(organizer_code)
            found = self.app.aggregate(member, Member)
            if found is None or member not in organizer.members:
                raise MemberNotFoundError(f"No member {member} at {organizer_code!r}.")
            found.revoke(organizer.code, actor)
            organizer.remove(member, actor)
            self.app.save(found, organizer)

        self._again_if_conflict(attempt)

    def members_of(self, organizer_code: str) -> list[StaffMember]:
        organizer = self.organizer(organizer_code)
        return [self.member(m) for m in organizer.members]

    def member(self, member: UUID) -> StaffMember:
        found = self.app.aggregate(member, Member)
        if found is None:
            raise MemberNotFoundError(f"No member {member}.")
        return StaffMember(found.id, found.email, dict(found.roles), found.totp_secret is not None)

    # What belongs to whom

    def owner_of(self, kind: str, code: str) -> str:
        """The organizer an event (``kind`` "show") or a tier ("tier") belongs to."""
        found = self.app.aggregate(owner_id(kind, code), Ownership)
        return found.organizer if found else DEFAULT_ORGANIZER

    def ownerships(self, organizer_code: str, show: str, tiers: list[str], actor: str) -> list[Ownership]:
        """That an event and its tiers belong to the organizer: to record with the event, in
        its recording (``BookingLedger.create_show``'s ``recorded_with``)."""
        self.organizer(organizer_code)
        things = [("show", show)] + [("tier", tier) for tier in tiers]
        return [Ownership(kind=kind, code=code, organizer=organizer_code, actor=actor) for kind, code in things]

    # Signing in and out

    def sign_in(self, email: str, password: str, code: str = "") -> SignedIn:
        """A new session for the member (never one the client proposes: no fixation)."""
        try:
            found = self.app.aggregate(member_id(email), Member)
        except InvalidStaffError:
            found = None
        if not secrets.password_matches(found.password_hash if found else None, password) or found is None:
            raise SignInRefusedError("Wrong email, password or code.")
        now = self.clock()
        step = secrets.totp_step(found.totp_secret, code, now) if found.totp_secret else 0
        if found.totp_secret and not step:
            raise SignInRefusedError("Wrong email, password or code.")
        token = secrets.new_token()
        expires_at = now + self.session_lifetime
        try:
            found.sign_in(secrets.token_hash(token), expires_at, step, now)
            self.app.save(found)
        except (InvalidStaffError, IntegrityError):
            raise SignInRefusedError("Wrong email, password or code.") from None  # the code was used meanwhile
        return SignedIn(found.id, token, expires_at)

    def session(self, member: UUID, token: str) -> StaffMember | None:
        """The member whose open session ``token`` is, or None."""
        found = self.app.aggregate(member, Member)
        if found is None or not found.session_open(secrets.token_hash(token), self.clock()):
            return None
        return StaffMember(found.id, found.email, dict(found.roles), found.totp_secret is not None)

    def sign_out(self, member: UUID, token: str) -> None:
        self._change(member, lambda m: m.sign_out(secrets.token_hash(token)))

    def sign_out_everywhere(self, member: UUID, actor: str) -> None:
        self._change(member, lambda m: m.sign_out_everywhere(actor))

    # The second factor

    def enable_second_factor(self, member: UUID, totp_secret: str, code: str) -> None:
        """Turn on TOTP with ``totp_secret`` (made by ``secrets.new_totp_secret`` and shown
        to the member), once a code from it proves the authenticator has it."""
        step = secrets.totp_step(totp_secret, code, self.clock())
        if not step:
            raise SignInRefusedError("That code is not the authenticator's.")
        self._change(member, lambda m: m.enable_second_factor(totp_secret, step, member_actor(member)))

    # Password resets

    def request_reset(self, email: str) -> tuple[str, str] | None:
        """(email, token) to mail if the account exists; None otherwise (the caller answers
        the same either way)."""
        try:
            found = self.app.aggregate(member_id(email), Member)
        except InvalidStaffError:
            return None
        if found is None:
            return None
        secret = secrets.new_token()
        self._change(found.id, lambda m: m.request_reset(secrets.token_hash(secret), self.clock() + RESET_LIFETIME))
        return found.email, f"{found.id}.{secret}"

    def reset_password(self, token: str, password: str) -> None:
        """Set a new password with a reset's token (once, within the hour); every session ends."""
        password_hash = secrets.hash_password(password)
        member_text, _, secret = token.partition(".")
        try:
            member = UUID(member_text)
        except ValueError:
            raise ResetRefusedError("That reset link is wrong or expired.") from None

        def change(found: Member) -> None:
            wanted = found.reset
            if wanted is None or wanted[1] <= self.clock() or wanted[0] != secrets.token_hash(secret):
                raise ResetRefusedError("That reset link is wrong or expired.")
            found.change_password(password_hash, member_actor(member))

        if self.app.aggregate(member, Member) is None:
            raise ResetRefusedError("That reset link is wrong or expired.")
        self._change(member, change)

    # API keys and door devices

    def issue(
        self,
        organizer_code: str,
        kind: str,
        name: str,
        role: Role,
        event_code: str | None,
        lifetime: timedelta | None,
        actor: str,
        gate: str | None = None,
    ) -> IssuedCredential:
        self.organizer(organizer_code)
        secret = secrets.new_token()
        expires_at = self.clock() + lifetime if lifetime else None
        credential = Credential.issue(
            uuid4(),
            kind,
            name,
            organizer_code,
            Role(role).value,
            event_code,
            secrets.token_hash(secret),
            expires_at,
            actor,
            gate,
        )
        self.app.save(credential)
        return IssuedCredential(credential.id, f"{credential.id}.{secret}", expires_at)

    def revoke(
        self, organizer_code: str, credential: UUID, actor: str, kind: str = "key", event_code: str | None = None
    ) -> None:
        """Revoke the organizer's key (or ``event_code``'s device): refused from the next request."""
        self.organizer(organizer_code)
        found = self.app.aggregate(credential, Credential)
        mine = found is not None and (found.organizer, found.kind, found.event_code) == (
            organizer_code,
            kind,
            event_code,
        )
        if found is None or not mine:
            raise CredentialNotFoundError(f"No key or device {credential}.")
        found.revoke(self.clock(), actor)
        self.app.save(found)

    def credential(self, secret_text: str) -> CredentialDetails | None:
        """The valid (unexpired, unrevoked) credential whose secret this is, or None."""
        found = self.authentic(secret_text)
        return found if found is not None and found.valid(self.clock()) else None

    def authentic(self, secret_text: str) -> CredentialDetails | None:
        """The credential whose secret this is, valid or not (a revoked device is told so), or None."""
        ident, _, secret = secret_text.partition(".")
        try:
            found = self.app.aggregate(UUID(ident), Credential)
        except ValueError:
            return None
        if found is None or not secrets.compare(found.secret_hash, secrets.token_hash(secret)):
            return None
        return details(found)

    def devices(self, organizer_code: str, event_code: str) -> list[CredentialDetails]:
        """The door devices registered for an event, oldest first (revoked ones too): read
        from the store's issued credentials, as a manager asks now and then."""
        self.organizer(organizer_code)
        found = [
            self.app.aggregate(issued.originator_id, Credential)
            for issued in recorded(self.app, [get_topic(Credential.Issued)])
            if issued.kind == "device" and issued.organizer == organizer_code and issued.event_code == event_code
        ]
        return [details(device) for device in found if device is not None]

    # Helpers

    def _change(self, member: UUID, change: Callable[[Member], None]) -> None:
        def attempt() -> None:
            found = self.app.aggregate(member, Member)
            if found is None:
                raise MemberNotFoundError(f"No member {member}.")
            change(found)
            self.app.save(found)

        self._again_if_conflict(attempt)

    @staticmethod
    def _again_if_conflict(attempt: Callable[[], T]) -> T:
        """Run ``attempt`` again when another process changed the same aggregates meanwhile."""
        for _ in range(4):
            try:
                return attempt()
            except IntegrityError:
                continue
        return attempt()


def details(found: Credential) -> CredentialDetails:
    return CredentialDetails(
        found.id,
        found.kind,
        found.name,
        found.organizer,
        Role(found.role),
        found.event_code,
        found.expires_at,
        found.revoked_at,
        found.gate,
    )
