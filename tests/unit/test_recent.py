"""A value read again at most every so many seconds."""

from __future__ import annotations

import threading
import time

from application.recent import Recent


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
