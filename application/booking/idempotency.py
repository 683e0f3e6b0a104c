"""The server-side secret of idempotent booking ids: where it comes from, and how every
process on one store comes to use the same one.

A booking made with an ``Idempotency-Key`` gets the id ``domain.bookings.idempotent_booking_id``
derives from this secret, the user and the key. Every process that may receive a retry
must derive the same id, or the retry books a second time; nobody without the secret may
derive it, or a guessed key gives away a booking's id.

- ``IDEMPOTENCY_SECRET`` set (at least 32 characters): that is the secret; every process on
  the store must have the same value.
- Not set: the first process on the store generates one and keeps it in the store itself
  (table ``idempotency_secret``), where every other process, and every restart, finds it.
  Processes on one store then agree by construction, and a backup of the store carries it.

Either way the store keeps the secret's fingerprint (an HMAC of a fixed text under it), and
a process whose secret has another fingerprint refuses to start (``IdempotencySecretError``):
two servers on one store cannot derive different ids for one key. Changing the secret
means changing it on every process and deleting that row, and retries of requests made
before then book again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from eventsourcing.postgres import PostgresDatastore

from application.errors import IdempotencySecretError
from application.persistence.storage import SCHEMA_LOCK, Store, again_if_created_meanwhile

MIN_LENGTH = 32
CREATE = "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, secret TEXT)"
INSERT = "INSERT INTO {table} (id, fingerprint, secret) VALUES (1, {p}, {p}) ON CONFLICT (id) DO NOTHING"
SELECT = "SELECT fingerprint, secret FROM {table} WHERE id = 1"


def fingerprint(secret: str) -> str:
    return hmac.new(secret.encode(), b"ticket-ledger idempotency secret", hashlib.sha256).hexdigest()


def idempotency_secret(configured: str | None, factory: Store) -> bytes:
    """The secret to derive ids with: ``configured`` (``IDEMPOTENCY_SECRET``) or the one
    kept in the store, after checking that the store agrees."""
    if configured is not None and len(configured) < MIN_LENGTH:
        raise IdempotencySecretError(f"IDEMPOTENCY_SECRET must have at least {MIN_LENGTH} characters.")
    offered = configured or secrets.token_hex(32)
    kept_fingerprint, kept_secret = again_if_created_meanwhile(
        lambda: _kept(factory, fingerprint(offered), None if configured else offered)
    )
    if configured is None and kept_secret is None:
        raise IdempotencySecretError(
            "The store's idempotency secret was given by IDEMPOTENCY_SECRET: set the same one here."
        )
    secret = configured or kept_secret
    if not hmac.compare_digest(fingerprint(secret), kept_fingerprint):
        raise IdempotencySecretError(
            "IDEMPOTENCY_SECRET is not the secret this store's other processes use: set the same one everywhere."
        )
    return secret.encode()


def _kept(factory: Store, offered_fingerprint: str, offered_secret: str | None) -> tuple[Any, Any]:
    """Keep the offered fingerprint (and secret) unless the store has one; return what it has.
    On PostgreSQL under the ledger's DDL lock, so processes starting together take turns."""
    datastore = factory.datastore
    postgres = isinstance(datastore, PostgresDatastore)
    table = (
        f'"{datastore.schema}".idempotency_secret' if isinstance(datastore, PostgresDatastore) else "idempotency_secret"
    )
    placeholder = "%s" if postgres else "?"
    with factory.datastore.transaction(commit=True) as cursor:
        if postgres:
            cursor.execute(SCHEMA_LOCK)
        cursor.execute(CREATE.format(table=table))
        cursor.execute(INSERT.format(table=table, p=placeholder), (offered_fingerprint, offered_secret))
        cursor.execute(SELECT.format(table=table))
        row = cursor.fetchone()
        if row is None:  # the insert above keeps a row there, or one is there already
            raise IdempotencySecretError(f"{table} is empty after the insert")
        return row["fingerprint"], row["secret"]
