"""The classic design the ledger has to beat: one row per tier, locked per booking.

Every booking is one transaction that takes ``SELECT ... FOR UPDATE`` on its tier's
row, checks and decrements ``available`` and inserts the booking. It is correct and
simple, and every booking of one tier waits for the one before it to commit, so a hot
tier's throughput is bounded by one transaction's round trips. Kept minimal on
purpose (plain Flask, one pool per worker, no ORM) so the comparison measures the
design, not framework overhead.

Serve:  gunicorn -k gthread --workers 4 --threads 4 -b 127.0.0.1:8100 \\
            --chdir scripts/bench 'baseline_app:create_app()'
Seed:   python scripts/bench/baseline_app.py seed VIP=1000000 GA=500
Check:  python scripts/bench/baseline_app.py check
Env:    POSTGRES_HOST/PORT/DBNAME/USER/PASSWORD, POSTGRES_SCHEMA, POSTGRES_POOL_SIZE.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid

import psycopg
from flask import Flask, jsonify, request
from psycopg_pool import ConnectionPool

DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.tiers (code text PRIMARY KEY, price numeric(12,2) NOT NULL,
    capacity int NOT NULL, available int NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.bookings (booking_id uuid PRIMARY KEY, user_id text NOT NULL,
    tier text NOT NULL, quantity int NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
"""
DDL_LOCK_KEY = 0x0B0C_BA5E  # any constant: serialises DDL of workers starting together


def conninfo_kwargs() -> dict:
    """Connection settings from the environment (same variable names as the project)."""
    env = os.environ.get
    return {
        "host": env("POSTGRES_HOST", "127.0.0.1"),
        "port": int(env("POSTGRES_PORT", "5432")),
        "dbname": env("POSTGRES_DBNAME", "test"),
        "user": env("POSTGRES_USER", "postgres"),
        "password": env("POSTGRES_PASSWORD", ""),
    }


def schema_name(schema: str | None = None) -> str:
    """The schema, checked so it can be pasted into SQL and ``search_path`` verbatim."""
    schema = schema or os.environ.get("POSTGRES_SCHEMA", "bench_baseline")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    """Create schema and tables; the advisory lock stops racing workers from colliding
    on the catalog (IF NOT EXISTS alone is not safe under concurrency)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        conn.execute(DDL.format(s=schema))


def error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message, "details": []}}), status


def create_app() -> Flask:
    """One app and one pool per gunicorn worker (no --preload: pools must not cross fork)."""
    schema, size = schema_name(), int(os.environ.get("POSTGRES_POOL_SIZE", "4"))
    kwargs = conninfo_kwargs() | {"options": f"-c search_path={schema}"}
    pool = ConnectionPool(kwargs=kwargs, min_size=size, max_size=size, open=True)
    with pool.connection() as conn:
        ensure_schema(conn, schema)
    app = Flask(__name__)
    app.extensions["pool"] = pool

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.get("/api/tickets")
    def list_tiers():
        with pool.connection() as conn:
            rows = conn.execute("SELECT code, price, capacity, available FROM tiers ORDER BY code")
            return jsonify(
                [
                    {"tier": c, "price": str(p), "currency": "USD", "capacity": cap, "availableQuantity": a}
                    for c, p, cap, a in rows
                ]
            )

    @app.post("/api/tickets/book")
    def book():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "VALIDATION_ERROR", "body must be a JSON object")
        user, tier, qty = body.get("userId"), body.get("tier"), body.get("quantity")
        if not (isinstance(user, str) and user and isinstance(tier, str) and tier and type(qty) is int and qty >= 1):
            return error(400, "VALIDATION_ERROR", "need userId, tier (strings), quantity >= 1")
        booking_id = uuid.uuid4()
        with pool.connection() as conn, conn.transaction():  # the row lock lives until commit
            row = conn.execute("SELECT available FROM tiers WHERE code = %s FOR UPDATE", (tier,)).fetchone()
            if row is None:
                return error(404, "TICKET_NOT_FOUND", f"tier {tier!r} does not exist")
            if row[0] < qty:
                return error(422, "INSUFFICIENT_TICKETS", f"only {row[0]} left in {tier!r}")
            conn.execute("UPDATE tiers SET available = available - %s WHERE code = %s", (qty, tier))
            conn.execute(
                "INSERT INTO bookings (booking_id, user_id, tier, quantity, status) "
                "VALUES (%s, %s, %s, %s, 'confirmed')",
                (booking_id, user, tier, qty),
            )
        return jsonify(
            {
                "bookingId": str(booking_id),
                "tier": tier,
                "bookedQuantity": qty,
                "remainingQuantity": row[0] - qty,
                "status": "confirmed",
            }
        ), 201

    return app


def seed(conninfo: dict | None, schema: str | None, tiers: dict[str, int], price: str = "100.00") -> None:
    """Drop and recreate the tables, then insert each tier full (available = capacity)."""
    schema = schema_name(schema)
    with psycopg.connect(**(conninfo or conninfo_kwargs())) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {schema}.bookings, {schema}.tiers")
        conn.commit()
        ensure_schema(conn, schema)
        with conn.transaction():
            for code, capacity in tiers.items():
                conn.execute(f"INSERT INTO {schema}.tiers VALUES (%s, %s, %s, %s)", (code, price, capacity, capacity))


def check(schema: str | None = None, conninfo: dict | None = None) -> dict[str, dict]:
    """Per tier: capacity, available, sold (= capacity - available), confirmed (= sum of
    confirmed bookings' quantities) and ok (sold == confirmed, 0 <= available)."""
    schema = schema_name(schema)
    with psycopg.connect(**(conninfo or conninfo_kwargs())) as conn:
        rows = conn.execute(
            f"SELECT t.code, t.capacity, t.available, coalesce(sum(b.quantity), 0)::int "
            f"FROM {schema}.tiers t LEFT JOIN {schema}.bookings b "
            f"ON b.tier = t.code AND b.status = 'confirmed' GROUP BY t.code ORDER BY t.code"
        )
        return {
            code: {
                "capacity": cap,
                "available": avail,
                "sold": cap - avail,
                "confirmed": confirmed,
                "ok": cap - avail == confirmed and avail >= 0,
            }
            for code, cap, avail, confirmed in rows
        }


if __name__ == "__main__":
    cmd, args = (sys.argv[1:2] or ["help"])[0], sys.argv[2:]
    if cmd == "seed" and args:
        seed(None, None, {k: int(v) for k, v in (a.split("=", 1) for a in args)})
        print(json.dumps(check()))
    elif cmd == "check":
        print(json.dumps(check()))
    else:
        sys.exit("usage: baseline_app.py seed TIER=CAPACITY... | check")
