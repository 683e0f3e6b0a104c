"""How the staff's secrets are kept: passwords as argon2id hashes (memory-hard, so a copy
of the store is slow to guess from), random tokens (sessions, resets, keys, devices) as
SHA-256 (they carry 256 bits: nothing to slow down), and TOTP (RFC 6238) codes."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from application.staff.errors import WeakPasswordError

MIN_PASSWORD, MAX_PASSWORD = 12, 1024
HASHER = PasswordHasher()  # argon2id with RFC 9106's low-memory profile (64 MiB, 3 passes)


@functools.cache
def decoy_hash() -> str:
    """Checked when the email names no account, so the answer takes as long as for a wrong
    password. Made at the first sign-in, not at import: every worker of every server imports
    this, and a hash is 64 MiB and tens of milliseconds of CPU."""
    return HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise WeakPasswordError(f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.")
    return HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed; with no hash, a decoy is checked all the same."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return HASHER.verify(password_hash or decoy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def compare(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(secret: str, code: str, now: datetime) -> int:
    """The time step whose code ``code`` is (this one or the one either side, for clocks
    that drift), or 0 if none is."""
    totp = pyotp.TOTP(secret)
    for drift in (0, -30, 30):
        moment = datetime.fromtimestamp(now.timestamp() + drift)
        if secrets.compare_digest(totp.at(moment), code.strip()):
            return int(totp.timecode(moment))
    return 0


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Ticket ledger")
