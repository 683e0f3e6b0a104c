"""Schema pieces shared by the resources: camelCase names and id validation."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate

# No control characters (PostgreSQL text cannot hold NUL), at least one non-blank character;
# anchored, as the OpenAPI document shows it.
PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s][^\x00-\x1f\x7f]*$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


class CamelCaseSchema(Schema):
    """Python names inside, camelCase JSON outside (the original API's names)."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = camel(field_obj.data_key or field_name)


class ResponseSchema(CamelCaseSchema):
    """An answer's body. Every field is always sent (``null`` where it allows none), so each
    is marked required and a generated client's models have no "maybe unset" fields."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        field_obj.required = True


# Both stores keep versions and positions as 64-bit integers; a larger one would not reach a query.
MAX_STORED_INTEGER = 2**63 - 1


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits only, as the document's ``integer``
    says. ``int()`` alone would also take ``"1_0"``, ``" 2"`` and other scripts' digits."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


PRICE = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


class Money(fields.Decimal):
    """A price as a decimal string in whole cents (``"25.00"``), in and out. A JSON number
    is refused: it may be a float, and prices are never floats."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": f"^{PRICE.pattern}$",
            "example": "100.00",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not PRICE.fullmatch(value):
            raise ValidationError('Must be a decimal string in whole cents, such as "25.00".')
        return super()._deserialize(value, attr, data, **kwargs)


class FullMatch(validate.Regexp):
    """The whole value must match: ``Regexp`` uses ``re.match``, which lets anything follow
    a matching start (``"a\\x00"``) and lets ``$`` match before a final newline. And it must
    be UTF-8: JSON can carry a lone surrogate (``"\\ud800"``), which no store can keep."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None or not is_utf8(value):
            raise ValidationError(self._format_error(value))
        return value


def is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def identifier(max_length: int = 64, **kwargs: Any) -> fields.String:
    """A required id: 1..max_length printable characters, not only white space. (A new
    user id follows a stricter rule, ``web.identity.user_ids``; this one names users who may
    have booked before it.)"""
    kwargs.setdefault("required", True)
    return fields.String(
        validate=[
            validate.Length(min=1, max=max_length),
            FullMatch(PRINTABLE, error="Must be printable characters, not only blanks."),
        ],
        **kwargs,
    )


# HTTP drops spaces around a header's value, so a key neither starts nor ends with one.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")


# The header in the API document, beside the rule that checks it.
IDEMPOTENCY_KEY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Names the booking or hold (or, on cancel, the cancellation): the same key (for the same "
    "user) again returns the same booking and books nothing more; another request under it is "
    "422 `IDEMPOTENCY_KEY_REUSED`.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
    "example": "order-42",
}


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key`` header: 1 to 255 printable ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError("Must be 1 to 255 printable ASCII characters.", "Idempotency-Key")
    return key


def ticket_quantity() -> fields.Integer:
    """How many tickets one booking (or an order's item) takes: at least 1, at most
    ``MAX_TICKETS_PER_BOOKING``, checked by ``check_quantity_limit`` (a setting, so not in the field)."""
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"maximum_setting": "MAX_TICKETS_PER_BOOKING"},
    )


def check_quantity_limit(quantity: int) -> None:
    limit = current_app.config["MAX_TICKETS_PER_BOOKING"]
    if quantity > limit:
        raise ValidationError(f"At most {limit} tickets per booking.", "quantity")
