"""A place the queue store lost (a Redis failover loses the last joins: replication is
asynchronous) is put back from the buyer's signed ticket, on both stores: at its number,
the room's order kept, the counter moved past it so no newcomer is given it again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.errors import PlaceNotFoundError
from application.waiting_room.log import WaitingRoomLog
from application.waiting_room.memory_store import MemoryQueueStore
from application.waiting_room.redis_store import RedisQueueStore
from application.waiting_room.rooms import WaitingRoomService, from_epoch
from application.waiting_room.store import QueueStore, RoomTerms
from tests.queue_stores import FakeClock, queue_kind, store_of_kind  # noqa: F401

START = 1_000_000.0
PASS_SECONDS = 60


def forget_last_joins(store: QueueStore, room_id: str, lost: list[tuple[str, str]]) -> None:
    """What a replica promoted before the last joins (``(place id, user)``, taken after the
    opening) reached it does not have."""
    if isinstance(store, RedisQueueStore):
        room = f"{store.prefix}:room:{room_id}:"
        for place_id, user in lost:
            store.client.hdel(room + "owners", place_id)
            store.client.hdel(room + "seq", place_id)
            store.client.hdel(room + "admitted", place_id)
            store.client.hdel(room + "users", user)
            store.client.hincrby(room + "gate", "seq", -1)
        return
    assert isinstance(store, MemoryQueueStore) and store._room is not None
    memory = store._room
    for place_id, user in lost:
        del memory.owners[place_id], memory.sequence[place_id], memory.users[user]
        memory.admitted_at.pop(place_id, None)
        memory.counter -= 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store(queue_kind: str, clock: FakeClock) -> Iterator[QueueStore]:
    with store_of_kind(queue_kind, clock) as store:
        yield store


def service(store: QueueStore, clock: FakeClock, store_env: dict[str, str]) -> WaitingRoomService:
    return WaitingRoomService(
        store, lambda: WaitingRoomLog(env=store_env), lambda tiers: False, 50, terms_seconds=0, clock=clock
    )


def test_a_lost_place_comes_back_at_its_number_and_no_newcomer_is_given_it_again(
    store: QueueStore, clock: FakeClock, store_env: dict[str, str]
):
    rooms, other_host = service(store, clock, store_env), service(store, clock, store_env)
    room = rooms.turn_on(["VIP"], from_epoch(START), 1.0, False, 100.0, PASS_SECONDS)
    tickets = {user: rooms.join(user)[0] for user in ("ann", "bob", "cid", "dan")}
    assert [t.number for t in tickets.values()] == [1, 2, 3, 4]
    lost = [(rooms.tickets.read(tickets[u].ticket_id).place_id, u) for u in ("cid", "dan")]
    forget_last_joins(store, room.room_id, lost)
    eve = rooms.join("eve")[0]  # joined after the failover, before cid and dan came back
    assert eve.number == 3

    dan = other_host.place(tickets["dan"].ticket_id)
    assert (dan.state, dan.number, dan.user_id) == ("waiting", 4, "dan")
    assert rooms.join("fay")[0].number == 5  # the counter moved past dan's number
    cid = rooms.place(tickets["cid"].ticket_id)
    assert (cid.number, cid.position) == (3, 3)  # given to eve too: admitted with her, never later
    assert rooms.join("dan")[0].ticket_id == dan.ticket_id  # still one place per user

    clock.advance(3.0)
    assert [rooms.place(tickets[u].ticket_id).state for u in ("ann", "bob", "cid", "dan")] == [
        "admitted",
        "admitted",
        "admitted",
        "waiting",
    ]
    assert rooms.place(eve.ticket_id).state == "admitted"


def test_a_ticket_the_service_did_not_sign_finds_no_place(
    store: QueueStore, clock: FakeClock, store_env: dict[str, str]
):
    rooms = service(store, clock, store_env)
    rooms.turn_on(["VIP"], from_epoch(START), 1.0, False, 100.0, PASS_SECONDS)
    ticket = rooms.join("ann")[0].ticket_id
    payload, _, signature = ticket.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(PlaceNotFoundError):
        rooms.place(forged)


def test_a_lost_pre_queue_place_keeps_its_draw_before_the_opening_and_after_it_goes_behind_every_drawn_place(
    store: QueueStore, clock: FakeClock
):
    terms = RoomTerms("room-1", ("VIP",), START + 10, PASS_SECONDS, 1.0, 100.0)
    assert store.turn_on(terms, 1.0, False)
    for user, rank in (("ann", 30), ("bob", 10)):
        store.join("room-1", user, f"room-1.{user}", rank, PASS_SECONDS)
    restored = store.restore("room-1", "room-1.cid", "cid", None, 20)
    assert restored is not None and (restored.pre_queue, restored.rank) == (True, 20)
    clock.advance(10)
    assert [store.place("room-1", f"room-1.{u}").number for u in ("bob", "cid", "ann")] == [1, 2, 3]

    late = store.restore("room-1", "room-1.dan", "dan", None, 5)
    assert late is not None and late.number == 3 and late.gate.joined == 3
    assert store.join("room-1", "eve", "room-1.eve", 0, PASS_SECONDS)[0].number == 4


def test_restoring_a_place_the_store_knows_changes_nothing(store: QueueStore, clock: FakeClock):
    assert store.turn_on(RoomTerms("room-1", None, START, PASS_SECONDS, 1.0, 100.0), 1.0, False)
    joined, _ = store.join("room-1", "ann", "room-1.ann", 0, PASS_SECONDS)
    again = store.restore("room-1", "room-1.ann", "someone else", 7, 0)
    assert again is not None and (again.number, again.user_id, again.gate.joined) == (1, "ann", 1)
    assert store.restore("room-2", "room-2.x", "bob", 1, 0) is None
