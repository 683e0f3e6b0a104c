"""A show: one event people buy tickets for (a concert, a date), with its tiers and the
window in which they are on sale. Called a *show* in the code so as not to be confused
with the domain's events; the API calls it an event (``/api/events``).

A show is created with its tiers in one recording, and each of its tiers carries the
show's sale window, so a booking outside it is refused by the tier itself, under the same
version check as every other rule. Tiers created on their own (the demo's, the admin's
``POST /api/admin/tiers``) belong to the default show, ``main``, which has no window.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidShowError
from domain.payments import PaymentTerms

DEFAULT_SHOW = "main"
SHOW_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
# No control characters (PostgreSQL's text cannot hold NUL: the projection would stop), not blank.
NAME = re.compile(r"[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s][^\x00-\x1f\x7f]*")


def show_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"show:{code}")


def check_window(sale_opens: datetime | None, sale_closes: datetime | None) -> None:
    for moment in (sale_opens, sale_closes):
        if moment is not None and moment.tzinfo is None:
            raise InvalidShowError("A sale window's times need a time zone.")
    if sale_opens is not None and sale_closes is not None and sale_opens >= sale_closes:
        raise InvalidShowError("A sale window must open before it closes.")


class Show(Aggregate):
    """An event on sale: its code, name, when it starts, its sale window and its tiers."""

    class Created(Aggregate.Created):
        code: str
        name: str
        starts_at: datetime | None
        sale_opens: datetime | None
        sale_closes: datetime | None
        tiers: list[str]
        payment: dict[str, Any] | None = None  # its ``PaymentTerms``, if its sale takes money

    payment: dict[str, Any] | None = None  # class default: events recorded before payments are free

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return show_id(code)

    @classmethod
    def open(
        cls,
        code: str,
        name: str,
        tiers: list[str],
        starts_at: datetime | None = None,
        sale_opens: datetime | None = None,
        sale_closes: datetime | None = None,
        payment: PaymentTerms | None = None,
    ) -> Show:
        if not SHOW_CODE.fullmatch(code) or code == DEFAULT_SHOW:
            raise InvalidShowError(f"An event's id must match {SHOW_CODE.pattern} and not be {DEFAULT_SHOW!r}.")
        if len(name) > 100 or not NAME.fullmatch(name) or not name.encode(errors="ignore").decode() == name:
            raise InvalidShowError("An event's name is 1 to 100 characters, not only blanks, no control characters.")
        if not tiers or len(set(tiers)) != len(tiers):
            raise InvalidShowError("An event has at least one tier, each once.")
        check_window(sale_opens, sale_closes)
        paid = {"payment": payment.as_stored()} if payment is not None else {}
        return cls(
            code=code,
            name=name,
            starts_at=starts_at,
            sale_opens=sale_opens,
            sale_closes=sale_closes,
            tiers=tiers,
            **paid,
        )

    @event(Created)
    def __init__(
        self,
        code: str,
        name: str,
        starts_at: datetime | None,
        sale_opens: datetime | None,
        sale_closes: datetime | None,
        tiers: list[str],
        payment: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.payment = payment
        self.name = name
        self.starts_at = starts_at
        self.sale_opens = sale_opens
        self.sale_closes = sale_closes
        self.tiers = list(tiers)
