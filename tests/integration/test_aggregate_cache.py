"""Readers of a cached tier never see it half-way through being brought up to date."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from application import BookingLedger
from domain.tiers import tier_id


@contextmanager
def frequent_thread_switches() -> Iterator[None]:
    """Let the interpreter switch threads after every few bytecodes, not every 5 ms,
    so that a window of a few instructions is hit within a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_a_tier_read_while_other_threads_advance_it_is_always_whole(store_env):
    """One ledger books one ticket at a time; another, whose cache must be fast-forwarded
    on every read, is read by four threads. A tier is whole when its version is one more
    than its sales (it was created at version 1, and each booking adds one event)."""
    with BookingLedger(env=store_env) as reader, BookingLedger(env=store_env) as writer:
        writer.create_tier("GA", Decimal("1.00"), 100_000)
        done = threading.Event()
        torn: list[tuple[int, int]] = []

        def read() -> None:
            while not done.is_set():
                tier = reader.get_tier("GA")
                if tier.version != tier.sold + 1:
                    torn.append((tier.version, tier.sold))

        def write() -> None:
            for n in range(1500):
                writer.book(f"user-{n}", "GA", 1)
            done.set()

        threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
        with frequent_thread_switches():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert torn == [], f"{len(torn)} reads saw a tier half-way through an update, e.g. {torn[:3]}"


def test_a_cached_tier_is_brought_up_to_date_in_a_copy_never_in_place(store_env):
    """What makes the race above impossible, step by step: the cached tier another thread
    may be reading is never changed; the tier advanced by the new events replaces it."""
    with BookingLedger(env=store_env) as reader, BookingLedger(env=store_env) as writer:
        writer.create_tier("GA", Decimal("1.00"), 10)
        reader.get_tier("GA")
        cached = reader.repository.cache.get(tier_id("GA"))
        writer.book("ann", "GA", 2)
        assert (reader.get_tier("GA").sold, reader.get_tier("GA").version) == (2, 2)
        advanced = reader.repository.cache.get(tier_id("GA"))
        assert (cached.version, cached.sold) == (1, 0) and (advanced.version, advanced.sold) == (2, 2)
        reader.get_tier("GA")  # nothing new: the cached tier stays
        assert reader.repository.cache.get(tier_id("GA")) is advanced


def test_what_a_ledger_saved_is_cached_as_saved_so_its_next_read_reads_no_event_back(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("GA", Decimal("1.00"), 10)
        ledger.book("ann", "GA", 2)
        read = []
        get = ledger.events.get
        ledger.events.get = lambda *args, **kwargs: [read.append(e) or e for e in get(*args, **kwargs)]
        assert ledger.get_tier("GA").sold == 2
    assert read == []
