"""The audience's accounting, on hand-made tallies: news timed by the 201s that made it, a
follower that missed the end, a tier sold beyond its capacity, the store disagreeing with
the clients, errors counted by kind and merged across processes; and the bare SSE
protocol's reading of a stream however its bytes are cut."""

from __future__ import annotations

import asyncio
from collections import Counter

from scripts.bench.audience_sse import BROKEN, ENDED, REFUSED, SseProtocol
from scripts.bench.audience_tally import merge, missed, news_latencies, summary, weighted_quantiles
from scripts.bench.audience_users import Availability, Ending, Follower, Plan, Tally

SALE_AT = 1_000.0


def books(sold: int, capacity: int, available: int | None = None, ok: bool = True) -> dict:
    return {
        "sold": sold,
        "capacity": capacity,
        "available": capacity - sold if available is None else available,
        "ok": ok,
    }


def sale(bookings: list[tuple[int, float, int]], **fields) -> Tally:
    return Tally(users=10, bookings=bookings, **fields)


def test_news_counts_each_change_for_each_follower_from_its_201():
    bookings = [(9, 1.000, 1), (8, 1.100, 1), (7, 1.200, 1)]  # remaining after each, 201 at, quantity
    news = Counter({(10, 8, 1_300): 2, (8, 7, 1_250): 1})  # two followers hear 10→8 at 1.3 s; one 8→7
    latencies, unattributed = news_latencies(news, bookings)
    assert latencies == Counter({300: 2, 200: 2, 50: 1})
    assert unattributed == 0


def test_news_of_no_known_booking_is_counted_apart():
    latencies, unattributed = news_latencies(Counter({(5, 6, 2_000): 3, (5, 4, 2_000): 1}), [(9, 1.0, 1)])
    assert latencies == Counter()
    assert unattributed == 4  # an increase (3 followers), and a decrease no 201 accounts for


def test_weighted_quantiles_count_each_value_by_its_weight():
    q = weighted_quantiles([(10.0, 94), (500.0, 5), (900.0, 1)])
    assert (q["p50"], q["p95"], q["p99"], q["max"], q["n"]) == (10.0, 500.0, 900.0, 900.0, 100)
    assert weighted_quantiles([]) == {"n": 0}


def test_a_follower_whose_last_word_is_not_the_stores_final_figure_missed_the_end():
    assert missed(Counter({0: 197, 3: 2, None: 1}), final_available=0) == 3
    assert missed(Counter({0: 200}), final_available=0) == 0


def test_a_sale_that_balances_sold_out_with_every_201_in_the_store():
    tally = sale([(1, SALE_AT + 1, 1), (0, SALE_AT + 2, 1)], last_seen=Counter({0: 10}))
    result = summary(tally, books(2, 2), SALE_AT)
    assert result["sold_out_and_balanced"] and result["oversold"] == 0
    assert result["bookings_per_second"] == 1.0
    assert result["followers_missed_the_end"] == 0


def test_an_oversold_tier_is_caught_by_the_201s_or_by_the_store():
    tally = sale([(1, SALE_AT + 1, 1), (0, SALE_AT + 1, 1), (-1, SALE_AT + 2, 1)])
    by_clients = summary(tally, books(2, 2), SALE_AT)
    assert not by_clients["sold_out_and_balanced"] and by_clients["oversold"] == 1
    by_store = summary(sale([(0, SALE_AT + 1, 2)]), books(3, 2, available=0), SALE_AT)
    assert not by_store["sold_out_and_balanced"] and by_store["oversold"] == 1


def test_201s_that_differ_from_the_stores_count_unbalance_the_books():
    one_short = summary(sale([(1, SALE_AT + 1, 1)]), books(2, 2), SALE_AT)  # the store sold 2, clients heard of 1
    assert not one_short["sold_out_and_balanced"] and one_short["oversold"] == 0
    not_in_store = summary(sale([(1, SALE_AT + 1, 1), (0, SALE_AT + 1, 1)]), books(1, 2, available=1), SALE_AT)
    assert not not_in_store["sold_out_and_balanced"]
    assert not summary(sale([(0, SALE_AT + 1, 2)]), books(2, 2, ok=False), SALE_AT)["sold_out_and_balanced"]


def test_processes_tallies_merge_into_one_count():
    one = Tally(users=3, errors=Counter({"connect": 2}), last_seen=Counter({0: 3}), cpu_seconds=1.0, wall_seconds=5)
    two = Tally(users=4, errors=Counter({"connect": 1, "5xx": 1}), last_seen=Counter({0: 4}), cpu_seconds=2.0)
    one.took("book", 0.1)
    two.took("book", 0.2)
    total = merge([one, two])
    assert total.users == 7 and total.errors == Counter({"connect": 3, "5xx": 1})
    assert total.latencies["book"] == [0.1, 0.2] and total.cpu_seconds == 3.0 and total.wall_seconds == 5
    assert summary(total, books(0, 2, available=0), SALE_AT)["error_count"] == 4


def test_a_follower_counts_news_only_when_the_figure_changes_and_is_done_at_the_final_one():
    async def listen() -> tuple[Tally, Follower]:
        tally, ending = Tally(), Ending()
        follower = Follower(tally, Availability("HOT"), ending)
        for available in (5, 5, 4, 4, 2):
            follower.heard(b'[{"tier":"COLD","availableQuantity":9},{"tier":"HOT","availableQuantity":%d}]' % available)
            ending.final = 0 if available == 5 else 2
        return tally, follower

    tally, follower = asyncio.run(listen())
    assert sorted((previous, now) for previous, now, _ in tally.news) == [(4, 2), (5, 4)]
    assert follower.last == 2 and follower.caught_up.done()


def test_buyers_are_spread_over_the_users_and_the_sale():
    plan = Plan("", None, False, "T", False, True, 100, 4, 0.0, 10.0, 10.0, 2.0, 15.0)
    assert plan.buy_times() == {0: 10.0, 25: 10.5, 50: 11.0, 75: 11.5}


def read_stream(answer: bytes, cut: int) -> tuple[list[bytes], object]:
    """The data lines the protocol hands over from ``answer`` fed ``cut`` bytes at a time, and how it closed."""

    async def feed() -> tuple[list[bytes], object]:
        seen: list[bytes] = []
        protocol = SseProtocol(b"", seen.append)
        for start in range(0, len(answer), cut):
            protocol.data_received(answer[start : start + cut])
        protocol.connection_lost(None)
        return seen, protocol.closed.result()

    return asyncio.run(feed())


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_stream_reads_the_same_however_its_bytes_are_cut():
    body = chunked(b"retry: 1000\n\ndata: [1]\n\n", b"data: [2]\n", b"\n: heartbeat\n\nid: 7\ndata: [3]\n\n")
    for cut in (1, 2, 3, 7, 1000):
        assert read_stream(HEAD + body, cut) == ([b"[1]", b"[2]", b"[3]"], ENDED)


def test_a_stream_cut_off_before_its_last_chunk_is_broken_and_a_refusal_says_its_status():
    assert read_stream(HEAD + chunked(b"data: [1]\n\n")[:-5], 4) == ([b"[1]"], BROKEN)
    assert read_stream(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 5) == ([], (REFUSED, 503))
    plain = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: [1]\r\n\r\ndata: [2]\r\n\r\n"
    assert read_stream(plain, 3) == ([b"[1]", b"[2]"], BROKEN)  # no framing to end it: the close is all it has
