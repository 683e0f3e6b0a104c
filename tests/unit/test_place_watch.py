"""One watcher per process wakes the place streams whose turn came, or all of them when the
sale is over; the others sleep until their time is up."""

from __future__ import annotations

import threading
import time

from application.waiting_room.place_watch import PlaceWatch


class Room:
    def __init__(self) -> None:
        self.admitted, self.over, self.looks = 0, False, 0

    def progress(self) -> tuple[int, bool]:
        self.looks += 1
        return self.admitted, self.over


def waiting(watch: PlaceWatch, place: int | None, timeout: float, woken: dict) -> threading.Thread:
    def wait() -> None:
        started = time.monotonic()
        woken[place] = (watch.wait(place, timeout), time.monotonic() - started)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread


def test_a_stream_is_woken_when_the_gate_reaches_its_place_and_not_before():
    room, woken = Room(), {}
    watch = PlaceWatch(room.progress, tick=0.01)
    near, far = waiting(watch, 5, 5.0, woken), waiting(watch, 50, 0.3, woken)
    time.sleep(0.1)
    assert woken == {}
    room.admitted = 5
    near.join(2)
    far.join(2)
    assert woken[5][0] and woken[5][1] < 1.0
    assert woken[50][0] is False  # its time was up first


def test_every_stream_is_woken_when_the_sale_is_over():
    room, woken = Room(), {}
    watch = PlaceWatch(room.progress, tick=0.01)
    threads = [waiting(watch, place, 5.0, woken) for place in (10, 20, None)]
    time.sleep(0.05)
    room.over = True
    for thread in threads:
        thread.join(2)
    assert all(answer for answer, _ in woken.values()) and len(woken) == 3


def test_the_watcher_stops_looking_once_nobody_waits_and_starts_again_for_the_next():
    room = Room()
    watch = PlaceWatch(room.progress, tick=0.01)
    assert watch.wait(7, 0.05) is False
    time.sleep(0.1)
    looks = room.looks
    time.sleep(0.1)
    assert room.looks == looks and watch.waiting() == 0  # nobody waits: no more looks
    room.admitted = 7
    assert watch.wait(7, 2.0) is True


def test_a_room_that_does_not_answer_wakes_nobody_and_the_watch_goes_on():
    calls = iter([ConnectionError("down"), (3, False)])

    def progress() -> tuple[int, bool]:
        outcome = next(calls, (3, False))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    watch = PlaceWatch(progress, tick=0.01)
    assert watch.wait(3, 2.0) is True
