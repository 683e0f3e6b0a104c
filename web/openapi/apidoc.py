"""The shared parts of the OpenAPI description (served at ``/openapi.json``).

Each endpoint lists the error codes it can answer with (``@blp.errors(...)``); the status,
the one error body schema and an example per code are filled in here, from the same table
the error handlers use (``web.http.errors.ERROR_STATUS``), so a new blueprint documents its errors
in one line and the document cannot drift from the codes the API really sends (the body and
the examples are in ``web/openapi/error_examples.py``). The headers are documented from one table
too (``EVERY_ANSWER``, ``BY_STATUS``, ``RATE_LIMITED``, applied by ``DocumentedHeaders`` to
every operation), so a new endpoint gets them without a line of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, resolver
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask
from marshmallow import fields

from application.waiting_room.checkout import REFUSALS
from web.http import logs
from web.http.errors import ERROR_STATUS, codes_of
from web.http.request_body import JsonBodyParser
from web.identity.users import USER_ENDPOINT
from web.openapi.error_examples import EXAMPLES, ErrorSchema


def header(description: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


SECONDS = {"type": "integer", "minimum": 0}
REQUEST_ID = header(
    f"the request's own `X-Request-ID` if it matches `{logs.REQUEST_ID.pattern}`, else a "
    "new one; every log line of the request carries it",
    {"type": "string"},
)
RETRY_AFTER = header("seconds to wait before retrying", SECONDS)
# Which answers carry which headers: every answer; answers of a status; and every answer of a
# rate-limited operation, which is one that documents 429 `TOO_MANY_REQUESTS` (web/http/limits.py),
# except a 415: a body that is not JSON is refused before the limiter counts the request. The
# admin endpoints' 429 is the failed sign-in limit, which counts only refusals and sends only
# `Retry-After` with its 429.
EVERY_ANSWER = {
    "X-Request-ID": REQUEST_ID,
    "Cache-Control": header(
        "`no-store`, except on the tier list (`GET /api/tickets`), which browsers ask for "
        "again each time and a shared cache in front may keep for a second, and the waiting room's "
        "frontier (`GET /api/queue/frontier`: `public, max-age=1`)",
        {"type": "string"},
    ),
}
BY_STATUS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": header("always `Bearer`", {"type": "string"})},
    405: {"Allow": header("the methods the path accepts", {"type": "string"})},
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}
RATE_LIMITED = {
    "X-RateLimit-Limit": header("requests allowed per window (`BOOKING_RATE_LIMIT`)", SECONDS),
    "X-RateLimit-Remaining": header("requests left in this window", SECONDS),
    "X-RateLimit-Reset": header("when the window resets, in seconds since the Unix epoch", SECONDS),
    "Retry-After": header("seconds until the window resets (on 429, until a retry can pass)", SECONDS),
}
NOT_COUNTED = {415}
REQUEST_ID_HEADER = {
    "in": "header",
    "name": "X-Request-ID",
    "required": False,
    "schema": {"type": "string"},
    "description": f"names the request in the logs and comes back on the answer if it matches "
    f"`{logs.REQUEST_ID.pattern}` (otherwise the answer carries a new one instead)",
    "example": "checkout-7f3a",
}


class DocumentedHeaders(BasePlugin):
    """Puts the headers into every operation as flask-smorest registers it: the request id as
    a parameter and on every response, the headers of each status, and the rate limit's
    headers when ``BOOKING_RATE_LIMIT`` is on."""

    def __init__(self, rate_limited: bool) -> None:
        self.rate_limited = rate_limited

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any) -> None:
        for operation in (operations or {}).values():
            operation.setdefault("parameters", []).append(dict(REQUEST_ID_HEADER))
            responses = operation.get("responses", {})
            admin = (path or "").startswith(("/api/admin", "/api/staff"))  # their 429: failed sign-ins
            limited = self.rate_limited and not admin and "429" in map(str, responses)
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(EVERY_ANSWER)
                if limited and int(status) not in NOT_COUNTED:
                    headers.update(RATE_LIMITED)
                headers.update(BY_STATUS.get(int(status), {}))


# The codes shared by kinds of endpoint; each endpoint adds its own.
JSON_BODY = (
    "VALIDATION_ERROR",
    "INVALID_JSON",
    "REQUEST_TIMEOUT",
    "REQUEST_ENTITY_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
)
COMMAND = ("LEDGER_BUSY", "STORE_UNAVAILABLE", "OUTCOME_UNKNOWN")
ADMIN = ("UNAUTHORIZED", "NOT_FOUND", "TOO_MANY_REQUESTS")
# A purchase (a booking, a hold, an order): what the use case says it may be refused with
# (application/waiting_room/checkout.py), and its pass check's queue store not answering.
SALE = (*codes_of(REFUSALS), "QUEUE_UNAVAILABLE")

# What a cacheable answer carries (GET /api/tickets: web/http/tier_board.py), and what asks for a 304.
CACHEABLE = {
    "ETag": header("names this version of the answer: send it back as `If-None-Match`", {"type": "string"}),
}
IF_NONE_MATCH_HEADER = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "the `ETag` of the answer you have: `304 Not Modified`, with no body, while it is still the answer",
    "example": '"3f2c0b9a6d1e4f7a8b5c2d10"',
}

ADMIN_SECURITY = [{"adminToken": []}]
# In token mode (web/identity/users.py), what every user endpoint needs and may answer besides its own.
USER_SECURITY = [{"userToken": []}]
USER_TOKEN_ERRORS = ("UNAUTHORIZED", "FORBIDDEN", "SERVICE_UNAVAILABLE")
FEED_SECURITY = [{"adminToken": []}, {"feedToken": []}]  # either one


def error_example(code: str) -> dict[str, Any]:
    message, details = EXAMPLES[code]
    return {"error": {"code": code, "message": message, "details": details}}


def error_responses(codes: tuple[str, ...]) -> dict[int, dict[str, Any]]:
    """The documented answer for each status these codes have: the codes in its
    description and an example each (``DocumentedHeaders`` adds the headers)."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(ERROR_STATUS[code], []).append(code)
    return {
        status: {
            "schema": ErrorSchema(),
            "description": " or ".join(f"`{code}`" for code in status_codes),
            "examples": {code: {"value": error_example(code)} for code in status_codes},
        }
        for status, status_codes in by_status.items()
    }


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint that can also document its error answers, whose bodies
    are parsed by ``JsonBodyParser``, and which, in token mode, documents what its user
    endpoints (``web.identity.users.user_endpoint``) need and answer."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.insert(0, self._prepare_user_doc)

    def errors(self, *codes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the answers for these error codes: one response per status, with the
        codes in its description and an example each."""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            for status, response in error_responses(codes).items():
                view = self.alt_response(status, **response)(view)
            return view

        return decorate

    @staticmethod
    def _prepare_user_doc(doc: dict[str, Any], doc_info: dict[str, Any], *, app: Flask, **_: Any) -> dict[str, Any]:
        """A user endpoint in token mode: the bearer token, and its 401, 403 and 503."""
        if not doc_info.get(USER_ENDPOINT) or not app.config["USER_TOKEN_ISSUER"]:
            return doc
        responses = doc_info.setdefault("response", {}).setdefault("responses", {})
        for status, extra in error_responses(USER_TOKEN_ERRORS).items():
            documented = responses.setdefault(status, [])
            if documented:  # the endpoint's own codes of that status, and these
                first = documented[0]
                documented[0] = {
                    **first,
                    "description": f"{first['description']} or {extra['description']}",
                    "examples": {**first["examples"], **extra["examples"]},
                }
            else:
                documented.append({**{k: v for k, v in extra.items() if v is not None}, "content_type": None})
        return {**doc, "security": USER_SECURITY}


def component_name(schema: Any) -> str:
    """A schema's name in the document: its class's ``openapi_name`` where the code's name is
    not the public one (a generated client's model is named after it), else the class name
    without "Schema"."""
    resolved = resolve_schema_cls(schema)
    schema_class = resolved[0] if isinstance(resolved, list) else resolved
    return getattr(schema_class, "openapi_name", None) or resolver(schema)


class Api(flask_smorest.Api):
    """Errors use our own body, and no catch-all ``default`` response: every status an
    endpoint can answer with is listed, so a fuzzer flags any other. A field whose bound is
    a setting says so with ``metadata={"maximum_setting": NAME}``; the document shows this
    app's value."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Flask) -> None:
        super().__init__(
            app,
            spec_kwargs={
                "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=component_name),
                "extra_plugins": [DocumentedHeaders(rate_limited=bool(app.config["BOOKING_RATE_LIMIT"]))],
            },
        )
        self.spec.components.security_scheme(
            "adminToken", {"type": "http", "scheme": "bearer", "description": "the `ADMIN_TOKEN` setting"}
        )
        self.spec.components.security_scheme(
            "feedToken", {"type": "http", "scheme": "bearer", "description": "the `FEED_TOKEN` setting"}
        )
        config = app.config
        if config["USER_TOKEN_ISSUER"]:
            self.spec.components.security_scheme(
                "userToken",
                {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"a token of `{config['USER_TOKEN_ISSUER']}` for `{config['USER_TOKEN_AUDIENCE']}`; "
                    "its `sub` is the user, and a `userId` naming anyone else is 403",
                },
            )

        def maximum_setting(_converter: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
            name = field.metadata.get("maximum_setting")
            return {"maximum": config[name]} if name else {}

        self.ma_plugin.converter.add_attribute_function(maximum_setting)
