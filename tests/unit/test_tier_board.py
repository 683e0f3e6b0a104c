"""The process's copy of the tier list: one read per interval however many ask, rendered
once per change, with an ETag that names the answer; and the waiting room's sold-out
answer from it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from eventsourcing.persistence import OperationalError

from web.http.tier_board import TierBoard
from web.waiting_rooms import Availability


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ReadTables:
    """Tier rows that count their reads (and may take a while to answer)."""

    def __init__(self, rows, seconds: float = 0.0) -> None:
        self.rows, self.reads, self.seconds = rows, 0, seconds

    def list_tiers(self):
        self.reads += 1
        time.sleep(self.seconds)
        if isinstance(self.rows, Exception):
            raise self.rows
        return list(self.rows)


def row(tier: str, available: int, held: int = 0, on_sale: bool = True):
    return SimpleNamespace(tier=tier, available=available, held=held, on_sale=on_sale)


def render(rows) -> list[dict]:
    return [{"tier": r.tier, "available": r.available} for r in rows]


def test_readers_within_the_interval_share_one_read_and_one_rendering():
    clock, tables, renders = Clock(), ReadTables([row("VIP", 3)]), []
    board = TierBoard(tables.list_tiers, lambda rows: renders.append(rows) or render(rows), 0.2, clock)
    first = [board.get() for _ in range(100)]
    clock.now = 0.2
    again = board.get()
    assert tables.reads == 2 and len(renders) == 1  # read again, but unchanged: not rendered again
    assert {b.body for b in first} == {again.body} == {b'[{"tier":"VIP","available":3}]'}
    assert again.etag == first[0].etag and again.etag.startswith('"') and again.etag.endswith('"')


def test_a_change_gives_a_new_body_and_etag():
    clock, tables = Clock(), ReadTables([row("VIP", 3)])
    board = TierBoard(tables.list_tiers, render, 0.2, clock)
    before = board.get()
    tables.rows = [row("VIP", 2)]
    assert board.get() is before  # within the interval
    clock.now = 0.25
    after = board.get()
    assert after.body == b'[{"tier":"VIP","available":2}]' and after.etag != before.etag


def test_forgetting_reads_again_at_once_after_a_write_of_this_process():
    clock, tables = Clock(), ReadTables([row("VIP", 3)])
    board = TierBoard(tables.list_tiers, render, 0.2, clock)
    board.get()
    tables.rows = [row("VIP", 1)]
    board.forget()
    assert board.get().body == b'[{"tier":"VIP","available":1}]'


def test_a_crowd_asking_when_the_copy_is_old_causes_one_read_at_a_time():
    tables = ReadTables([row("VIP", 3)], seconds=0.2)
    board = TierBoard(tables.list_tiers, render, max_age=0.0)  # every copy is old at once
    board.get()
    threads = [threading.Thread(target=board.get) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tables.reads <= 3  # the first, and one at a time while the crowd asked (not 51)


def test_a_read_that_fails_raises_to_its_caller_and_is_tried_again_by_the_next():
    tables = ReadTables(OperationalError("down"))
    board = TierBoard(tables.list_tiers, render, 0.2, Clock())
    with pytest.raises(OperationalError):
        board.get()
    tables.rows = [row("VIP", 3)]
    assert board.get().body == b'[{"tier":"VIP","available":3}]'


@pytest.mark.parametrize(
    ("if_none_match", "unchanged"),
    [
        (None, False),
        ("", False),
        ('"other"', False),
        ("{etag}", True),
        ('"other", {etag}', True),
        ("W/{etag}", True),
        ("*", True),
    ],
)
def test_if_none_match_names_the_answer_by_its_etag_weakly_or_with_a_star(if_none_match, unchanged):
    board = TierBoard(ReadTables([row("VIP", 3)]).list_tiers, render, 0.2, Clock()).get()
    given = if_none_match.format(etag=board.etag) if if_none_match else if_none_match
    assert board.unchanged_for(given) is unchanged


def test_sold_out_means_nothing_left_nor_held_in_the_rooms_tiers():
    tables = ReadTables([row("VIP", 0), row("GA", 5), row("HELD", 0, held=2), row("CLOSED", 9, on_sale=False)])
    availability = Availability(TierBoard(tables.list_tiers, render, 0.2, Clock()))
    assert availability.sold_out(("VIP",)) and availability.sold_out(("VIP", "CLOSED"))
    assert not availability.sold_out(("VIP", "GA")) and not availability.sold_out(("HELD",))
    assert not availability.sold_out(None) and not availability.sold_out(("NOSUCH",))
