"""Who a request acts for: the open default, or the subject of a verified bearer token.

Open (the default, as the original specification mocks users): a user is whoever a
request names, in its body's ``userId`` or its path. Anyone who knows a user id can act as
that user; what keeps others' bookings safe is that nothing public names a booking or its
user (docs/security.md).

Token mode (``USER_TOKEN_ISSUER`` set): every user endpoint needs ``Authorization: Bearer
<JWT>`` signed by the configured issuer (its public key, ``USER_TOKEN_KEY``, or its key set,
``USER_TOKEN_JWKS_URL``), for this service (``USER_TOKEN_AUDIENCE``), unexpired, with one of
the pinned asymmetric algorithms (``USER_TOKEN_ALGORITHMS``; never ``none``, never an HMAC
one, so a public key can never serve as a shared secret). The token's ``sub`` is the user.
A request whose ``userId`` names someone else is refused (403), not quietly re-pointed at
the token's user: a client that names one user and holds another's token has a bug or is
confused, and acting for a user it did not name would hide that. Without a valid token: 401
with ``WWW-Authenticate: Bearer`` (RFC 6750), checked before the body is read.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, ServiceUnavailable, Unauthorized

from domain.bookings import same_user
from web.identity.user_ids import problem

# The asymmetric algorithms, by the type of key that verifies them. A token is verified only
# with an algorithm its key can verify (PyJWT raises TypeError for any other).
ALGORITHMS_BY_KEY: dict[type, frozenset[str]] = {
    rsa.RSAPublicKey: frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    ec.EllipticCurvePublicKey: frozenset({"ES256", "ES384", "ES512"}),
    ed25519.Ed25519PublicKey: frozenset({"EdDSA"}),
    ed448.Ed448PublicKey: frozenset({"EdDSA"}),
}
ASYMMETRIC = frozenset().union(*ALGORITHMS_BY_KEY.values())
LEEWAY_SECONDS = 30  # clock skew allowed between the issuer and this server
JWKS_TIMEOUT_SECONDS = 2.0  # a key set that does not come within this is 503, not a hung request
USER_ENDPOINT = "user_endpoint"  # the mark on a view's ``_apidoc`` (web.openapi.apidoc documents it)


class UserTokens:
    """The configured issuer's tokens, and how to verify one."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.issuer = config["USER_TOKEN_ISSUER"]
        self.audience = config["USER_TOKEN_AUDIENCE"]
        self.algorithms = [a.strip() for a in config["USER_TOKEN_ALGORITHMS"].split(",") if a.strip()]
        if not self.audience:
            raise ValueError("USER_TOKEN_AUDIENCE is required with USER_TOKEN_ISSUER.")
        if not self.algorithms or not set(self.algorithms) <= ASYMMETRIC:
            raise ValueError(f"USER_TOKEN_ALGORITHMS must name some of {', '.join(sorted(ASYMMETRIC))}.")
        if bool(config["USER_TOKEN_KEY"]) == bool(config["USER_TOKEN_JWKS_URL"]):
            raise ValueError("Set one of USER_TOKEN_KEY (PEM) and USER_TOKEN_JWKS_URL with USER_TOKEN_ISSUER.")
        self._key = load_pem_public_key(config["USER_TOKEN_KEY"].encode()) if config["USER_TOKEN_KEY"] else None
        if self._key is not None and not self.algorithms_for(self._key):
            raise ValueError("None of USER_TOKEN_ALGORITHMS suits USER_TOKEN_KEY.")
        self._key_set = (
            None if self._key else jwt.PyJWKClient(config["USER_TOKEN_JWKS_URL"], timeout=JWKS_TIMEOUT_SECONDS)
        )

    def algorithms_for(self, key: Any) -> list[str]:
        """The pinned algorithms this key can verify."""
        return [
            a
            for a in self.algorithms
            if any(isinstance(key, kind) and a in names for kind, names in ALGORITHMS_BY_KEY.items())
        ]

    def subject(self, authorization: str) -> str:
        """The user id the ``Authorization`` header's token is for, or raise 401 (or 503
        when the issuer's key set cannot be fetched)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("A bearer token is required.", error=None)
        try:
            key = self._key or self._key_set.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms_for(key),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            raise ServiceUnavailable("The token issuer's keys cannot be fetched; retry later.") from None
        except jwt.ExpiredSignatureError:
            raise unauthorized("The bearer token has expired.") from None
        except jwt.PyJWTError:
            raise unauthorized("The bearer token is not valid.") from None
        if problem(claims["sub"]):
            raise unauthorized("The bearer token's subject is not a valid user id.")
        return unicodedata.normalize("NFC", claims["sub"])


def unauthorized(message: str, error: str | None = "invalid_token") -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"realm": "users", **({"error": error} if error else {})})
    return Unauthorized(message, www_authenticate=challenge)


def install(app: Flask) -> None:
    """Token mode if ``USER_TOKEN_ISSUER`` is set (a bad setting stops the start)."""
    app.extensions["user_tokens"] = UserTokens(app.config) if app.config["USER_TOKEN_ISSUER"] else None


def user_endpoint(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as acting for a user: in token mode its token is verified first, before
    the body is read. Put it above the view's other decorators."""

    @functools.wraps(view)
    def verified(*args: Any, **kwargs: Any) -> Any:
        tokens = current_app.extensions["user_tokens"]
        if tokens is not None:
            g.token_user = tokens.subject(request.headers.get("Authorization", ""))
        return view(*args, **kwargs)

    verified._apidoc = {**deepcopy(getattr(view, "_apidoc", {})), USER_ENDPOINT: True}
    return verified


def acting_user(named: str) -> str:
    """The user a request acts for, given the one it names: that one in the open default;
    in token mode the token's, and a request naming anyone else is refused (403)."""
    token_user = g.get("token_user")
    if token_user is None:
        return named
    if not same_user(named, token_user):
        raise Forbidden("userId is not the user of the bearer token.")
    return token_user


def token_user() -> str | None:
    """The token's user in token mode; None in the open default (anyone may read)."""
    return g.get("token_user")
