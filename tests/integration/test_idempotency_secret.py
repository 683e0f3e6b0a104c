"""The secret behind idempotent booking ids: kept in the store unless configured, the same
for every process on a store and after a restart, different on another store, and a
process whose secret the store does not know refuses to start."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from decimal import Decimal

import pytest

from application import BookingLedger
from application.errors import IdempotencySecretError
from domain.bookings import idempotent_booking_id

SECRET = "s" * 32


def test_an_id_depends_on_the_secret_user_and_key_and_is_not_the_old_predictable_one():
    one = idempotent_booking_id(b"secret-1", "ann", "order-42")
    assert one == idempotent_booking_id(b"secret-1", "ann", "order-42") and one.version == 4
    assert (
        len(
            {
                one,
                idempotent_booking_id(b"secret-2", "ann", "order-42"),
                idempotent_booking_id(b"secret-1", "bob", "order-42"),
                idempotent_booking_id(b"secret-1", "ann", "order-43"),
            }
        )
        == 4
    )
    assert one != uuid.uuid5(uuid.NAMESPACE_URL, "booking:" + json.dumps(["ann", "order-42"]))


def test_processes_on_one_store_agree_and_a_restart_keeps_the_secret(store_env):
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 10)
        made = one.book("ann", "VIP", 2, idempotency_key="order-42").booking_id
        assert two.idempotent_id("ann", "order-42") == made
        assert two.book("ann", "VIP", 2, idempotency_key="order-42").booking_id == made
    with BookingLedger(env=store_env) as restarted:
        assert restarted.idempotent_id("ann", "order-42") == made
        assert restarted.get_tier("VIP").sold == 2


def test_another_store_has_another_secret(store_env, tmp_path):
    other = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "other.sqlite3")}
    with BookingLedger(env=store_env) as here, BookingLedger(env=other) as there:
        assert here.idempotent_id("ann", "order-42") != there.idempotent_id("ann", "order-42")


def test_a_configured_secret_is_used_and_must_be_everyones(store_env):
    with BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": SECRET}) as configured:
        assert configured.idempotent_id("ann", "k") == idempotent_booking_id(SECRET.encode(), "ann", "k")
        for different in ({}, {"IDEMPOTENCY_SECRET": "t" * 32}):
            with pytest.raises(IdempotencySecretError):
                BookingLedger(env={**store_env, **different})
        with BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": SECRET}) as same:
            assert same.idempotent_id("ann", "k") == configured.idempotent_id("ann", "k")


def test_a_store_that_generated_its_secret_refuses_a_configured_one(store_env):
    with BookingLedger(env=store_env):
        with pytest.raises(IdempotencySecretError):
            BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": SECRET})


def test_a_short_configured_secret_is_refused(store_env):
    with pytest.raises(IdempotencySecretError):
        BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": "short"})


def test_the_store_keeps_the_secret_and_its_fingerprint_in_a_table_of_its_own(store_env):
    """Stored data: a store set up by an earlier release must still be recognised."""
    with BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": SECRET}) as ledger:
        datastore = ledger.factory.datastore
        schema = getattr(datastore, "schema", None)
        table = f'"{schema}".idempotency_secret' if schema else "idempotency_secret"
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT id, fingerprint, secret FROM {table}")
            rows = [(row["id"], row["fingerprint"], row["secret"]) for row in cursor.fetchall()]
    expected = hmac.new(SECRET.encode(), b"ticket-ledger idempotency secret", hashlib.sha256).hexdigest()
    assert rows == [(1, expected, None)]  # a configured secret is not written down


def test_a_process_that_refuses_to_start_says_which_setting_to_fix(store_env):
    with pytest.raises(IdempotencySecretError, match=r"^IDEMPOTENCY_SECRET must have at least 32 characters\.$"):
        BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": "s" * 31})
    with BookingLedger(env={**store_env, "IDEMPOTENCY_SECRET": SECRET}):
        refusals = [
            ({}, "The store's idempotency secret was given by IDEMPOTENCY_SECRET: set the same one here."),
            (
                {"IDEMPOTENCY_SECRET": "t" * 32},
                "IDEMPOTENCY_SECRET is not the secret this store's other processes use: set the same one everywhere.",
            ),
        ]
        for setting, message in refusals:
            with pytest.raises(IdempotencySecretError) as refused:
                BookingLedger(env={**store_env, **setting})
            assert str(refused.value) == message
