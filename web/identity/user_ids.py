"""What a new user id may be, its stored form (NFC), and the pattern the API document shows.

A user id is shown to people (the page, the admin's history) and compared as a key (the
read tables, the ledger's ownership check); in the open default it is also the user's only
credential. So two ids that look the same must be the same id, and every id must be usable
in a URL path (``/api/users/<userId>/bookings``). Allowed: 1 to 64 characters of letters,
marks, digits, punctuation, symbols and the plain space (U+0020); refused: control, format,
line and paragraph separators, surrogates, private-use and unassigned characters (Unicode
categories Cc, Cf, Zl, Zp, Cs, Co, Cn), any other space, the invisible characters Unicode
lists as default-ignorable, the characters that normalisation replaces by another (the ohm
sign by omega), ``/``, ``.`` and ``..`` (a browser resolves them as path segments), a
leading space or mark, a trailing space. What is accepted is stored in NFC, so an accented
letter sent composed or decomposed names one user.

Ids recorded before this rule stay readable: reading and acting on existing bookings
accept any id that was ever accepted (``web.schemas.fields.identifier``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, validate

MAX_LENGTH = 64
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Unicode's Default_Ignorable_Code_Point characters outside Cf and Cn (which are refused
# anyway): they show as nothing, so "ann" followed by one looks like "ann".
INVISIBLE = frozenset(
    chr(point)
    for low, high in (
        (0x034F, 0x034F),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180D),
        (0x180F, 0x180F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFFA0, 0xFFA0),
        (0xE0100, 0xE01EF),
    )
    for point in range(low, high + 1)
)
DESCRIPTION = (
    "1 to 64 characters: letters, marks, digits, punctuation, symbols and the plain space (U+0020); no control, "
    "format, separator, private-use, unassigned or invisible character, no other space, no character that Unicode "
    "normalisation replaces, no `/`; not `.` or `..`; not starting with a space or a mark, not ending with a space. "
    "Stored in Unicode NFC."
)


def refusal(character: str) -> str | None:
    """Why this character may not be in a user id (a fixed phrase: ``pattern`` asks about
    every code point, so this must be quick), or None if it may."""
    category = unicodedata.category(character)
    if category in REFUSED_CATEGORIES or (category == "Zs" and character != " "):
        return "characters of its Unicode category are not allowed"
    if character == "/":
        return "'/' is not allowed"
    if character in INVISIBLE:
        return "invisible characters are not allowed"
    if (
        unicodedata.decomposition(character)[:1] not in ("", "<")
        and unicodedata.normalize("NFC", character) != character
    ):
        return "Unicode normalisation replaces it with another character"
    return None


def problem(user_id: str) -> str | None:
    """What is wrong with ``user_id`` as a new user id, or None."""
    if not 1 <= len(user_id) <= MAX_LENGTH:
        return f"A user id has 1 to {MAX_LENGTH} characters."
    for character in user_id:
        reason = refusal(character)
        if reason:
            name = unicodedata.name(character, "(unnamed)")
            return f"U+{ord(character):04X} {name} ({unicodedata.category(character)}): {reason}."
    if user_id in (".", ".."):
        return "'.' and '..' are not user ids."
    if user_id[:1] == " " or unicodedata.category(user_id[:1]).startswith("M"):
        return "A user id does not start with a space or a combining mark."
    if user_id.endswith(" "):
        return "A user id does not end with a space."
    return None


def character_class(characters: list[int]) -> str:
    """A regular-expression class of these code points (sorted), as ranges."""
    ranges: list[list[int]] = []
    for point in characters:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return (
        "["
        + "".join(re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high > low else "") for low, high in ranges)
        + "]"
    )


@functools.cache
def pattern() -> str:
    """The rule as one regular expression (what the API document shows; built from this
    Python's Unicode database, once per process)."""
    allowed = [point for point in range(0x110000) if refusal(chr(point)) is None]
    marks = [point for point in allowed if unicodedata.category(chr(point)).startswith("M")]
    return rf"^(?!\.{{1,2}}$)(?!{character_class([*marks, 0x20])}){character_class(allowed)}{{1,{MAX_LENGTH}}}(?<! )$"


class UserId(fields.String):
    """A new user id: checked against the rule above, then put in NFC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            required=True,
            validate=validate.Length(min=1, max=MAX_LENGTH),
            metadata={"description": DESCRIPTION, "pattern": pattern(), "example": "alice"},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        reason = problem(text)
        if reason:
            raise ValidationError(reason)
        return unicodedata.normalize("NFC", text)


def stored_forms(user_id: str) -> list[str]:
    """The forms the bookings of the user named ``user_id`` may be recorded under: NFC (new
    ids), and, from before the rule, as sent (typically composed, NFC, or decomposed, NFD).
    One form for most ids."""
    return list(dict.fromkeys(unicodedata.normalize(form, user_id) for form in ("NFC", "NFD")) | {user_id: None})
