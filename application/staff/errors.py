"""The staff use cases' errors."""

from __future__ import annotations

from domain.errors import LedgerError


class SignInRefusedError(LedgerError):
    """Raised when an email, password or one-time code is wrong, or the account has no
    password yet: one error for all, so an answer never says which was wrong or whether
    the account exists."""


class WeakPasswordError(LedgerError, ValueError):
    """Raised when a new password is shorter than 12 or longer than 1024 characters."""


class ResetRefusedError(LedgerError):
    """Raised when a password reset's token is wrong, used or expired."""


class OrganizerNotFoundError(LedgerError):
    """Raised when no organizer has the code, or the asker is none of its members (the
    same answer: existence is not revealed)."""


class OrganizerAlreadyExistsError(LedgerError):
    """Raised when an organizer is founded with a code already taken."""


class MemberNotFoundError(LedgerError):
    """Raised when a member is not on the organizer's team."""


class CredentialNotFoundError(LedgerError):
    """Raised when no API key or device of the organizer has the id."""


class DeviceRevokedError(LedgerError):
    """Raised when a door device that was revoked scans or uploads: it presented its own
    secret, so it may be told why (its scans kept offline are not merged: someone must
    look at them), where a wrong secret learns nothing."""
