"""``make restore-drill``: on a running ``make cluster``, prove the backups restore.

A full backup of the nodes; bookings recorded through HAProxy; a point in time taken from the leader's
clock; more bookings; then the backup and the WAL archive restored to that point onto a fresh
node (``backups.restore_to``). There, every tier's history must replay with nothing to report
(the audit), every booking answered 201 before the point must be found, and none after it.
"""

from __future__ import annotations

import time
import uuid

import psycopg

from application import BookingLedger
from application.audit.tier_audit import TierAudit
from scripts.cluster import backups
from scripts.cluster.database import Database, connection
from scripts.cluster.layout import SCHEMA, WRITE_PORT, store_settings

BOOKINGS = 50  # on each side of the point in time


def book(ledger: BookingLedger, n: int, run: str) -> list[str]:
    """``n`` bookings of one GA ticket each, recorded through HAProxy; their ids."""
    return [str(ledger.book(f"drill-{run}-{k}", "GA", 1).booking_id) for k in range(n)]


def leader_clock() -> str:
    with psycopg.connect(**connection(WRITE_PORT), autocommit=True) as conn:
        return str(conn.execute("SELECT clock_timestamp()::text").fetchone()[0])


def drill() -> dict[str, object]:
    database = Database([])
    backups.backup(database.as_postgres)
    run = uuid.uuid4().hex[:8]
    with BookingLedger(env={**store_settings(), "POSTGRES_POOL_SIZE": "2"}) as ledger:
        before = book(ledger, BOOKINGS, f"{run}-before")
        time.sleep(1)
        target = leader_clock()
        time.sleep(1)
        after = book(ledger, BOOKINGS, f"{run}-after")
    backups.pgbackrest(database.as_postgres, "check")  # switches WAL and waits until it is archived
    began = time.monotonic()
    settings = backups.restore_to(database.as_postgres, target)
    restored_in = time.monotonic() - began
    try:
        restored_env = {**settings, "POSTGRES_SCHEMA": SCHEMA, "POSTGRES_POOL_SIZE": "2", "CREATE_TABLE": "no"}
        with BookingLedger(env=restored_env) as ledger:
            audit = TierAudit(ledger)
            problems = {code: [p.message for p in audit.verify(code)[1]] for code in audit.tier_codes()}
            found = {booking_id for booking_id in before + after if ledger.find_booking(uuid.UUID(booking_id))}
    finally:
        backups.stop_drill(database.as_postgres)
    result = {
        "target": target,
        "restored_in_seconds": round(restored_in, 1),
        "audit_problems": problems,
        "before_found": len(found & set(before)),
        "after_found": len(found & set(after)),
        "bookings_each_side": BOOKINGS,
    }
    result["passed"] = not any(problems.values()) and result["before_found"] == BOOKINGS and result["after_found"] == 0
    return result
