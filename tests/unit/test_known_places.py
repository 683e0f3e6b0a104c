"""A buyer's look at a place whose state the store need not decide costs no round trip to it."""

from __future__ import annotations

from application.waiting_room.known_places import KnownPlaces
from application.waiting_room.memory_store import MemoryQueueStore
from application.waiting_room.store import RoomTerms

ROOM = "6f2b4a4e-0d5f-4c1c-9a37-6a0f1f2d3e4c"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryQueueStore):
    """The in-process store, counting the steps a look could have asked of it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.asked = {"gate": 0, "place": 0}

    def gate(self, room_id):
        self.asked["gate"] += 1
        return super().gate(room_id)

    def place(self, room_id, place_id):
        self.asked["place"] += 1
        return super().place(room_id, place_id)


def room(opens_at: float = 1000.0, rate: float = 10.0, buyers: int = 50, joined_at: float = 1000.0):
    """A store with a room opening at ``opens_at`` and ``buyers`` who joined at ``joined_at``, in order."""
    clock = Clock(joined_at)
    store = CountingStore(clock)
    store.turn_on(RoomTerms(ROOM, None, opens_at, 300, rate, rate), rate, False)
    places = [store.join(ROOM, f"user-{n}", f"{ROOM}.t{n}", n, 300)[0] for n in range(buyers)]
    return clock, store, places


def test_a_waiting_place_is_looked_at_from_the_copy_until_its_turn_comes():
    clock, store, places = room()
    known = KnownPlaces(store, clock=clock)
    known.remember(places[19], 1000.0)  # the 20th place: its turn comes at 2 s, at 10 a second
    clock.now = 1000.5
    seen = [known.look(ROOM, f"{ROOM}.t19", 1000.0) for _ in range(100)]
    assert {(p.number, p.gate.admitted) for p in seen} == {(20, 5)}
    assert store.asked == {"gate": 1, "place": 0}  # one read of the gate for a hundred looks
    clock.now = 1001.9
    assert known.look(ROOM, f"{ROOM}.t19", 1000.0).gate.admitted == 19  # the copy, carried forward at the rate
    clock.now = 1002.05
    assert known.look(ROOM, f"{ROOM}.t19", 1000.0) is None  # its turn: the store decides (and records it)


def test_an_admitted_place_is_answered_from_the_copy():
    clock, store, places = room()
    known = KnownPlaces(store, clock=clock)
    clock.now = 1001.0
    admitted = store.place(ROOM, f"{ROOM}.t3")
    known.remember(admitted, 1000.0)
    clock.now = 1030.0
    again = known.look(ROOM, f"{ROOM}.t3", 1000.0)
    assert (again.admitted_at, again.gate.now) == (admitted.admitted_at, 1030.0)
    assert store.asked["place"] == 1


def test_unknown_places_and_undrawn_places_are_the_stores_to_answer():
    clock, store, _ = room(opens_at=2000.0)  # everyone joined before the opening: places are drawn then
    known = KnownPlaces(store, clock=clock)
    early = store.place(ROOM, f"{ROOM}.t0")
    assert early.pre_queue
    known.remember(early, 2000.0)
    assert known.look(ROOM, f"{ROOM}.t0", 2000.0) is None
    clock.now = 2000.0
    known.remember(store.place(ROOM, f"{ROOM}.t0"), 2000.0)  # drawn now: final
    assert known.look(ROOM, f"{ROOM}.t0", 2000.0) is not None
    assert known.look(ROOM, f"{ROOM}.unknown", 2000.0) is None


def test_the_least_recently_seen_places_are_forgotten_beyond_the_limit():
    clock, store, places = room()
    known = KnownPlaces(store, clock=clock, limit=2)
    for place in places[40:43]:
        known.remember(place, 1000.0)
    assert known.look(ROOM, f"{ROOM}.t40", 1000.0) is None
    assert known.look(ROOM, f"{ROOM}.t42", 1000.0).number == 43


def test_a_room_turned_off_is_the_stores_to_say():
    clock, store, places = room()
    known = KnownPlaces(store, clock=clock)
    known.remember(places[30], 1000.0)
    store.turn_off(ROOM)
    clock.now = 1000.3
    assert known.look(ROOM, f"{ROOM}.t30", 1000.0) is None
