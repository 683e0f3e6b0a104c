"""A value read again at most every so many seconds."""

from __future__ import annotations

import threading
import time

import pytest

from application.recent import LastKnown, Recent


class Source:
    """Counts its reads; each read gives the next number."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.reads


def test_a_value_is_read_again_once_it_is_as_old_as_the_limit():
    now = [100.0]
    source = Source()
    recent = Recent(source, seconds=5, clock=lambda: now[0])
    assert (recent.get(), recent.get()) == (1, 1)
    now[0] = 104.9
    assert recent.get() == 1
    now[0] = 105.0
    assert (recent.get(), recent.get(), source.reads) == (2, 2, 2)


def test_while_another_caller_reads_it_the_last_value_is_given_at_once():
    now = [100.0]
    recent = Recent(Source(), seconds=5, clock=lambda: now[0])
    recent.get()
    now[0] = 200.0
    reading = threading.Event()
    done = threading.Event()

    def read_slowly() -> None:  # another caller, reading it for half a second
        with recent._reading:
            reading.set()
            done.wait(0.5)

    other = threading.Thread(target=read_slowly)
    other.start()
    reading.wait(5)
    started = time.monotonic()
    assert recent.get() == 1 and time.monotonic() - started < 0.25
    done.set()
    other.join()
    assert recent.get() == 2


def test_a_forgotten_value_is_read_again_and_refresh_reads_now():
    recent = Recent(Source(), seconds=60)
    assert recent.get() == 1
    recent.forget()
    assert recent.get() == 2 and recent.refresh() == 3 and recent.get() == 3


class Failing(Source):
    """Reads numbers until it is told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def __call__(self) -> int:
        if self.down:
            raise ConnectionError("the source does not answer")
        return super().__call__()


def last_known(source: Source, now: list[float]) -> tuple[LastKnown[int], list]:
    """A LastKnown whose reads behind the callers wait in ``pending`` until run."""
    pending: list = []
    return LastKnown(source, seconds=1, keep_seconds=30, clock=lambda: now[0], start=pending.append), pending


def test_a_last_known_value_is_given_at_once_while_it_is_read_again_behind_the_callers():
    now, source = [100.0], Source()
    known, pending = last_known(source, now)
    assert known.get() == 1
    now[0] = 101.5
    assert (known.get(), known.get(), len(pending)) == (1, 1, 1)  # one read behind, not one per caller
    pending.pop()()
    assert (known.get(), source.reads) == (2, 2)


def test_a_last_known_value_is_kept_while_its_source_fails_until_the_keep_bound():
    now, source = [100.0], Failing()
    known, pending = last_known(source, now)
    known.get()
    source.down = True
    now[0] = 129.9
    assert known.get() == 1
    pending.pop()()  # fails, logged
    assert known.failing and known.get() == 1 and not pending  # not tried again within a second
    now[0] = 130.0
    with pytest.raises(ConnectionError):
        known.get()  # older than the bound: not known any more
    source.down = False
    assert known.get() == 2 and not known.failing


def test_one_read_behind_the_callers_at_a_time_however_long_it_takes():
    now, source = [100.0], Source()
    known, pending = last_known(source, now)
    known.get()
    now[0] = 101.0
    known.get()
    now[0] = 105.0  # the first read still on its way (a Redis that does not answer)
    assert known.get() == 1 and len(pending) == 1
    pending.pop()()
    assert known.get() == 2


def test_a_read_begun_before_the_value_was_forgotten_does_not_bring_it_back():
    now, source = [100.0], Source()
    known, _ = last_known(source, now)
    known.get()

    def forgotten_midway() -> int:
        known.forget()  # the value changed here while the read was on its way
        return source()

    known._read = forgotten_midway
    assert known.refresh() == 2
    known._read = source
    assert known.get() == 3
