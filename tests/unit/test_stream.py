"""The tier stream's timing, on a fake clock: what it sends, when, and that it ends."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError

from web.http.stream import HEARTBEAT_SECONDS, POLL_SECONDS, tier_events


class FakeTime:
    """A clock that only moves when the stream sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def stream(lists: list[str], max_seconds: float, time: FakeTime) -> list[tuple[float, str]]:
    """Each chunk sent, with when; the read returns ``lists`` one per poll, then the last for ever."""
    reads = iter(lists)
    last = [lists[0]]

    def read() -> str:
        last[0] = next(reads, last[0])
        return last[0]

    return [(time.now, chunk) for chunk in tier_events(read, max_seconds, time.clock, time.sleep)]


def test_the_list_is_sent_first_with_a_retry_hint_then_only_when_it_changes():
    time = FakeTime()
    chunks = stream(["[5]", "[5]", "[4]", "[4]", "[4]", "[5]"], max_seconds=10, time=time)
    assert [chunk for _, chunk in chunks] == ["retry: 1000\n\ndata: [5]\n\n", "data: [4]\n\n", "data: [5]\n\n"]
    assert [at for at, _ in chunks] == [0, 2 * POLL_SECONDS, 5 * POLL_SECONDS]


def test_a_quiet_stream_sends_heartbeats_and_ends_at_its_time_limit():
    time = FakeTime()
    chunks = stream(["[5]"], max_seconds=40, time=time)
    assert [chunk for _, chunk in chunks[1:]] == [": heartbeat\n\n"] * 2
    assert [at for at, _ in chunks[1:]] == [HEARTBEAT_SECONDS, 2 * HEARTBEAT_SECONDS]
    assert time.now == 40


def test_a_store_that_stops_answering_ends_the_stream_but_one_that_never_answered_raises():
    time = FakeTime()
    answers = iter(["[5]"])

    def read() -> str:
        try:
            return next(answers)
        except StopIteration:
            raise OperationalError("connection refused") from None

    assert list(tier_events(read, 30, time.clock, time.sleep)) == ["retry: 1000\n\ndata: [5]\n\n"]
    assert time.now == POLL_SECONDS
    with pytest.raises(OperationalError):
        tier_events(read, 30, time.clock, time.sleep)
