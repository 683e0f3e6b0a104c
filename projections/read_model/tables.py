"""The read tables' SQL, written once with ``:name`` parameters for both stores (only column
types, the parameter style and the schema prefix differ: ``LedgerView.sql``), and what a
page of events does to them (``PageChanges``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from application.persistence.tracking import TRACKED_NAME, TRACKED_POSITION
from domain.bookings import BookingStatus
from domain.credentials import device_named
from domain.tickets import ticket_id
from projections.positions import Positions

CREATE_TABLES = (
    """CREATE TABLE IF NOT EXISTS {availability} (
        tier_id TEXT PRIMARY KEY,
        tier TEXT NOT NULL UNIQUE,
        price {money} NOT NULL,
        capacity INTEGER NOT NULL,
        sold INTEGER NOT NULL,
        held INTEGER NOT NULL DEFAULT 0,
        on_sale INTEGER NOT NULL DEFAULT 1,
        position BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {bookings} (
        booking_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at {timestamp} NOT NULL,
        updated_at {timestamp} NOT NULL,
        expires_at {timestamp}
    )""",
    # Every scan at the door, the admission of each ticket (admitted 1) and the offline
    # gates' conflicts (admitted 0): the organizer's counts and the scanners' offline list.
    # A scan is its ticket, gate and scan id (``domain.tickets.Scan.identity``); ``device_id``
    # is the door device that made it (NULL: the shared scanner token).
    """CREATE TABLE IF NOT EXISTS {checkins} (
        ticket_id TEXT NOT NULL,
        scan_id TEXT NOT NULL,
        booking_id TEXT NOT NULL,
        seat INTEGER NOT NULL,
        gate TEXT NOT NULL,
        scanned_at {timestamp} NOT NULL,
        admitted INTEGER NOT NULL,
        device_id TEXT,
        PRIMARY KEY (ticket_id, gate, scan_id)
    )""",
    # The shows on sale besides the default one, and which tiers are theirs.
    """CREATE TABLE IF NOT EXISTS {shows} (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        starts_at {timestamp},
        sale_opens {timestamp},
        sale_closes {timestamp}
    )""",
    """CREATE TABLE IF NOT EXISTS {show_tiers} (
        tier TEXT PRIMARY KEY,
        show_code TEXT NOT NULL
    )""",
    # Every place on a tier's waiting list, in the order they joined (``position``, the
    # joining event's), and what became of it: waiting, offered (the hold ``booking_id``
    # until ``expires_at``), accepted, declined, lapsed or left.
    """CREATE TABLE IF NOT EXISTS {waiting_list} (
        entry_id TEXT PRIMARY KEY,
        tier TEXT NOT NULL,
        user_id TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        status TEXT NOT NULL,
        position BIGINT NOT NULL,
        joined_at {timestamp} NOT NULL,
        updated_at {timestamp} NOT NULL,
        booking_id TEXT,
        expires_at {timestamp}
    )""",
)
# Columns added to a table since stores were first made with it: (table, column, type). A
# store whose table predates one gets it, empty, when its view opens (``ticketledger rebuild``
# fills it from the events), so an upgraded server can write rows of the new shape at once.
ADDED_COLUMNS = (("checkins", "device_id", "TEXT"),)
TABLES = ("availability", "bookings", "checkins", "shows", "show_tiers", "waiting_list")
# Index name and columns. A rebuild's fresh tables get their indexes just before
# they take the live tables' place (see ``swap_statements``).
INDEXES = (
    ("bookings_by_user", "(user_id, created_at)"),
    ("bookings_by_tier", "(tier)"),
    ("bookings_by_expiry", "(status, expires_at)"),  # the holds that are due
)

INSERT_TIER = (
    "INSERT INTO {availability} (tier_id, tier, price, capacity, sold, position) "
    "VALUES (:tier_id, :tier, :price, :capacity, 0, :position)"
)
# A price is set, not added: the page's last one, or (NULL: none in the page) the row's own.
UPDATE_TIER = (
    "UPDATE {availability} SET sold = sold + :sold, held = held + :held, capacity = capacity + :capacity, "
    "on_sale = on_sale * :on_sale, price = COALESCE(:price, price), position = :position WHERE tier_id = :tier_id"
)
INSERT_BOOKING = (
    "INSERT INTO {bookings} "
    "(booking_id, user_id, tier, quantity, status, created_at, updated_at, expires_at) "
    "VALUES (:booking_id, :user_id, :tier, :quantity, :status, :at, :at, :expires_at)"
)
INSERT_SHOW = (
    "INSERT INTO {shows} (code, name, starts_at, sale_opens, sale_closes) "
    "VALUES (:code, :name, :starts_at, :sale_opens, :sale_closes)"
)
INSERT_SHOW_TIER = "INSERT INTO {show_tiers} (tier, show_code) VALUES (:tier, :show)"
INSERT_SCAN = (
    "INSERT INTO {checkins} (ticket_id, scan_id, booking_id, seat, gate, scanned_at, admitted, device_id) "
    "VALUES (:ticket_id, :scan_id, :booking_id, :seat, :gate, :scanned_at, :admitted, :device_id)"
)
# The joining event names its tier by id only: the code is the availability row's.
INSERT_PLACE = (
    "INSERT INTO {waiting_list} (entry_id, tier, user_id, quantity, status, position, joined_at, updated_at) "
    "SELECT :entry_id, tier, :user_id, :quantity, 'waiting', :position, :at, :at FROM {availability} "
    "WHERE tier_id = :tier_id"
)
SET_PLACE_STATUS = (
    "UPDATE {waiting_list} SET status = :status, updated_at = :at, booking_id = COALESCE(:booking_id, booking_id), "
    "expires_at = COALESCE(:expires_at, expires_at) WHERE entry_id = :entry_id"
)
PLACE_COLUMNS = "entry_id, tier, user_id, quantity, status, joined_at, updated_at, booking_id, expires_at"
SELECT_TIER_PLACES = f"SELECT {PLACE_COLUMNS} FROM {{waiting_list}} WHERE tier = :tier ORDER BY position"
# Per tier with anyone on its list now: people and tickets waiting, and open offers.
SELECT_WAITING_COUNTS = (
    "SELECT tier, SUM(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END) AS waiting, "
    "SUM(CASE WHEN status = 'waiting' THEN quantity ELSE 0 END) AS waiting_tickets, "
    "SUM(CASE WHEN status = 'offered' THEN 1 ELSE 0 END) AS offers "
    "FROM {waiting_list} WHERE status IN ('waiting', 'offered') GROUP BY tier ORDER BY tier"
)
SET_BOOKING_STATUS = "UPDATE {bookings} SET status = :status, updated_at = :at WHERE booking_id = :booking_id"
TIER_COLUMNS = "tier, price, capacity, sold, held, capacity - sold - held AS available, on_sale, position"
# The default show's tiers: those of no other show (all of them while there is none).
SELECT_TIERS = (
    f"SELECT {TIER_COLUMNS} FROM {{availability}} WHERE tier NOT IN (SELECT tier FROM {{show_tiers}}) ORDER BY tier"
)
SELECT_ALL_TIERS = f"SELECT {TIER_COLUMNS} FROM {{availability}} ORDER BY tier"
SELECT_SHOW_TIERS = (
    f"SELECT {TIER_COLUMNS} FROM {{availability}} "
    "WHERE tier IN (SELECT tier FROM {show_tiers} WHERE show_code = :show) ORDER BY tier"
)
SELECT_SHOWS = "SELECT code, name, starts_at, sale_opens, sale_closes FROM {shows} ORDER BY code"
SELECT_TIER = f"SELECT {TIER_COLUMNS} FROM {{availability}} WHERE tier = :tier"
BOOKING_COLUMNS = "booking_id, user_id, tier, quantity, status, created_at, updated_at, expires_at"
SELECT_BOOKING = f"SELECT {BOOKING_COLUMNS} FROM {{bookings}} WHERE booking_id = :booking_id"
SELECT_USER_BOOKINGS = (
    f"SELECT {BOOKING_COLUMNS} FROM {{bookings}} WHERE user_id = :user_id ORDER BY created_at DESC, booking_id"
)
SELECT_TIER_BOOKINGS = f"SELECT {BOOKING_COLUMNS} FROM {{bookings}} WHERE tier = :tier ORDER BY booking_id"
SELECT_ALL_BOOKINGS = f"SELECT {BOOKING_COLUMNS} FROM {{bookings}} ORDER BY booking_id"
SELECT_DUE_HOLDS = (
    f"SELECT booking_id FROM {{bookings}} WHERE status = '{BookingStatus.HELD}' AND expires_at <= :now "
    "ORDER BY expires_at LIMIT :limit"
)
# Per tier, with its show (as ``event``, the dashboard's field): tickets sold (confirmed bookings' seats),
# admitted, and scans in conflict.
SELECT_DOOR_COUNTS = (
    "SELECT COALESCE((SELECT show_code FROM {show_tiers} s WHERE s.tier = b.tier), 'main') AS event, "
    "b.tier AS tier, SUM(b.quantity) AS sold, "
    "(SELECT COUNT(*) FROM {checkins} c JOIN {bookings} cb ON cb.booking_id = c.booking_id "
    " WHERE cb.tier = b.tier AND c.admitted = 1) AS admitted, "
    "(SELECT COUNT(*) FROM {checkins} c JOIN {bookings} cb ON cb.booking_id = c.booking_id "
    " WHERE cb.tier = b.tier AND c.admitted = 0) AS conflicts "
    f"FROM {{bookings}} b WHERE b.status = '{BookingStatus.CONFIRMED}' GROUP BY b.tier ORDER BY event, b.tier"
)
SELECT_VALID_TICKETS = (
    "SELECT b.booking_id, b.tier, b.quantity, c.seat FROM {bookings} b "
    "LEFT JOIN {checkins} c ON c.booking_id = b.booking_id AND c.admitted = 1 "
    f"WHERE b.status = '{BookingStatus.CONFIRMED}' ORDER BY b.booking_id, c.seat"
)
SCAN_COLUMNS = "ticket_id, scan_id, booking_id, seat, gate, scanned_at, admitted, device_id"
SELECT_ALL_SCANS = f"SELECT {SCAN_COLUMNS} FROM {{checkins}} ORDER BY ticket_id, gate, scan_id"
# The scans door devices made (who admitted a ticket, and where): the newest first.
SELECT_DEVICE_SCANS = (
    f"SELECT {SCAN_COLUMNS} FROM {{checkins}} WHERE device_id IS NOT NULL ORDER BY scanned_at DESC, ticket_id"
)
SELECT_NEXT_EXPIRY = f"SELECT MIN(expires_at) AS next FROM {{bookings}} WHERE status = '{BookingStatus.HELD}'"
DROP_TABLES = (
    "DROP TABLE IF EXISTS {availability}",
    "DROP TABLE IF EXISTS {bookings}",
    "DROP TABLE IF EXISTS {checkins}",
    "DROP TABLE IF EXISTS {shows}",
    "DROP TABLE IF EXISTS {show_tiers}",
    "DROP TABLE IF EXISTS {waiting_list}",
    f"DELETE FROM {{tracking}} WHERE {TRACKED_NAME} = :name",
)
POSITIONS = Positions("{tracking}", TRACKED_NAME, TRACKED_POSITION)  # the library's tracking table


@dataclass
class PageChanges:
    """What a page of events does to the read tables, gathered so that it can be
    written with one statement per kind of change.

    Sales and capacity changes only add up, and a price change replaces the price before
    it, so each tier gets one ``UPDATE`` per page with the sums, the page's last price and
    the position of its last event; new rows go in before updates of them. The result
    equals applying the events one by one.
    """

    new_tiers: list[dict[str, Any]] = field(default_factory=list)
    tier_totals: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_bookings: list[dict[str, Any]] = field(default_factory=list)
    booking_statuses: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    shows: list[dict[str, Any]] = field(default_factory=list)
    show_tiers: list[dict[str, Any]] = field(default_factory=list)
    new_places: list[dict[str, Any]] = field(default_factory=list)
    place_statuses: list[dict[str, Any]] = field(default_factory=list)

    def change_tier(
        self,
        tier_id: str,
        position: int,
        sold: int = 0,
        held: int = 0,
        capacity: int = 0,
        closes: bool = False,
        price: Decimal | None = None,
    ) -> None:
        totals = self.tier_totals.setdefault(
            tier_id, {"tier_id": tier_id, "sold": 0, "held": 0, "capacity": 0, "on_sale": 1, "price": None}
        )
        totals["sold"] += sold
        totals["held"] += held
        totals["capacity"] += capacity
        totals["on_sale"] *= 0 if closes else 1  # closing is for good
        if price is not None:
            totals["price"] = price
        totals["position"] = position

    def new_booking(self, event: Any, status: BookingStatus, expires_at: datetime | None) -> None:
        self.new_bookings.append(
            {
                "booking_id": str(event.originator_id),
                "user_id": event.user_id,
                "tier": event.tier,
                "quantity": event.quantity,
                "status": status,
                "at": event.timestamp,
                "expires_at": expires_at,
            }
        )

    def booking_status(self, event: Any, status: BookingStatus) -> None:
        self.booking_statuses.append({"booking_id": str(event.originator_id), "status": status, "at": event.timestamp})

    def scan(self, event: Any, admitted: bool) -> None:
        self.scans.append(
            {
                "ticket_id": str(ticket_id(event.originator_id, event.seat)),
                "scan_id": event.scan_id,
                "booking_id": str(event.originator_id),
                "seat": event.seat,
                "gate": event.gate,
                "scanned_at": event.scanned_at,
                "admitted": int(admitted),
                "device_id": device_named(event.actor),
            }
        )

    def new_show(self, event: Any) -> None:
        self.shows.append(
            {
                "code": event.code,
                "name": event.name,
                "starts_at": event.starts_at,
                "sale_opens": event.sale_opens,
                "sale_closes": event.sale_closes,
            }
        )
        self.show_tiers += [{"tier": tier, "show": event.code} for tier in event.tiers]

    def new_place(self, event: Any, position: int) -> None:
        self.new_places.append(
            {"entry_id": str(event.entry_id), "tier_id": str(event.originator_id), "user_id": event.user_id,
             "quantity": event.quantity, "position": position, "at": event.timestamp}
        )  # fmt: skip

    def place_status(self, event: Any, status: str) -> None:
        offered = status == "offered"
        self.place_statuses.append(
            {"entry_id": str(event.entry_id), "status": status, "at": event.timestamp,
             "booking_id": str(event.booking_id) if offered else None,
             "expires_at": event.expires_at if offered else None}
        )  # fmt: skip

    def statements(self) -> list[tuple[str, list[dict[str, Any]]]]:
        batches = [
            (INSERT_TIER, self.new_tiers),
            (UPDATE_TIER, list(self.tier_totals.values())),
            (INSERT_BOOKING, self.new_bookings),
            (SET_BOOKING_STATUS, self.booking_statuses),
            (INSERT_SCAN, self.scans),
            (INSERT_SHOW, self.shows),
            (INSERT_SHOW_TIER, self.show_tiers),
            (INSERT_PLACE, self.new_places),
            (SET_PLACE_STATUS, self.place_statuses),
        ]
        return [(statement, rows) for statement, rows in batches if rows]
