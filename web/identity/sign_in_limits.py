"""Failed staff sign-ins, counted per client address and per account, in the same store
as the other rate limits (``RATE_LIMIT_STORAGE_URI``: Redis when several processes serve,
``web/http/limits.py``). Past either limit a sign-in is answered 429 before the password
is even checked, so a guesser learns nothing more and costs no more argon2 work.

Per address slows one machine guessing many accounts; per account slows many machines
guessing one. The account's own member is slowed too while someone guesses at it (the
price of not letting 1,000 addresses have 1,000 tries each); other accounts and other
addresses are not.
"""

from __future__ import annotations

import hashlib
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from web.http.limits import require_shared_counts


class SignInLimits:
    """The two counts; an empty limit setting turns that count off."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.per_address = parse_limit(config["STAFF_SIGN_IN_LIMIT_PER_ADDRESS"])
        self.per_account = parse_limit(config["STAFF_SIGN_IN_LIMIT_PER_ACCOUNT"])
        self.prefix = f"{config['RATE_LIMIT_KEY_PREFIX']}:staff-sign-in"
        if self.per_address or self.per_account:
            require_shared_counts(config)
        self.limiter = MovingWindowRateLimiter(storage_from_string(config["RATE_LIMIT_STORAGE_URI"]))

    def allowed(self, address: str, email: str) -> bool:
        return all(self.limiter.test(item, *key) for item, key in self._counts(address, email))

    def failed(self, address: str, email: str) -> None:
        for item, key in self._counts(address, email):
            self.limiter.hit(item, *key)

    def _counts(self, address: str, email: str) -> list[tuple[RateLimitItem, tuple[str, str]]]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        counts = [(self.per_address, ("address", address)), (self.per_account, ("account", account))]
        return [(item, (self.prefix, *key)) for item, key in counts if item is not None]


def parse_limit(text: str) -> RateLimitItem | None:
    return parse(text) if text else None
