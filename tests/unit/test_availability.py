"""Sold-out answers for the waiting room: one read of the read tables at a time."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from web.waiting_rooms import Availability


class SlowView:
    """Read tables that take a while to answer, counting the reads."""

    def __init__(self, rows) -> None:
        self.rows, self.reads = rows, 0

    def list_tiers(self):
        self.reads += 1
        time.sleep(0.2)
        return self.rows


def row(tier: str, available: int, held: int = 0, on_sale: bool = True):
    return SimpleNamespace(tier=tier, available=available, held=held, on_sale=on_sale)


def test_sold_out_means_nothing_left_nor_held_in_the_rooms_tiers():
    availability = Availability(SlowView([row("VIP", 0), row("GA", 5), row("HELD", 0, held=2),
                                          row("CLOSED", 9, on_sale=False)]))
    assert availability.sold_out(("VIP",)) and availability.sold_out(("VIP", "CLOSED"))
    assert not availability.sold_out(("VIP", "GA")) and not availability.sold_out(("HELD",))
    assert not availability.sold_out(None) and not availability.sold_out(("NOSUCH",))


def test_a_crowd_asking_at_once_when_the_answer_is_old_causes_one_read():
    view = SlowView([row("VIP", 3)])
    availability = Availability(view, seconds=0.0)  # every answer is old at once
    availability.sold_out(None)
    threads = [threading.Thread(target=availability.sold_out, args=(None,)) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert view.reads <= 3  # the first, and one at a time while the crowd asked (not 51)
