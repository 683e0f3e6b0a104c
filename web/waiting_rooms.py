"""Building the waiting room for a server process from its settings.

The queue store is the one ``QUEUE_STORAGE_URI`` names: in this process (``memory://``,
right for the SQLite default's single process) or Redis (every worker and host that
shares the server and ``QUEUE_REDIS_PREFIX`` shares one queue). The room log goes to the
ledger's own database. Whether a room's tiers are sold out comes from the process's copy
of the tier list (``web/http/tier_board.py``), however many buyers ask.
"""

from __future__ import annotations

from typing import Any

from application import BookingLedger
from application.waiting_room.log import WaitingRoomLog
from application.waiting_room.memory_store import MemoryQueueStore
from application.waiting_room.redis_store import RedisQueueStore
from application.waiting_room.rooms import WaitingRoomService
from application.waiting_room.store import QueueStore
from web.http.tier_board import TierBoard

# The room log writes a few events a minute: a small pool of its own is plenty.
LOG_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "4"}


class Availability:
    """Sold-out answers from the process's copy of the tier list."""

    def __init__(self, board: TierBoard) -> None:
        self._board = board

    def sold_out(self, tiers: tuple[str, ...] | None) -> bool:
        """Nothing left to book, nor held (held tickets may come back), in any of ``tiers``
        (``None``: every tier) that exists; a tier off sale counts as sold out."""
        concerned = [row for row in self._board.get().rows if tiers is None or row.tier in tiers]
        return bool(concerned) and all(not row.on_sale or row.available + row.held == 0 for row in concerned)


def queue_store(config: dict[str, Any]) -> QueueStore:
    uri = str(config["QUEUE_STORAGE_URI"])
    if uri == "memory://":
        return MemoryQueueStore()
    if uri.startswith(("redis://", "rediss://", "unix://", "redis+sentinel://")):
        return RedisQueueStore.from_url(uri, config["QUEUE_REDIS_PREFIX"])
    raise ValueError(f"QUEUE_STORAGE_URI must be memory://, a redis:// or a redis+sentinel:// URL, got {uri!r}")


def open_waiting_rooms(config: dict[str, Any], ledger: BookingLedger, board: TierBoard) -> WaitingRoomService:
    # The ledger's settings, without snapshots (a room has a few dozen events).
    env = {key: value for key, value in ledger.env.items() if key != "IS_SNAPSHOTTING_ENABLED"}
    return WaitingRoomService(
        queue_store(config),
        lambda: WaitingRoomLog(env={**env, **LOG_POOL}),
        Availability(board).sold_out,
        float(config["QUEUE_TARGET_P95_MS"]),
        terms_seconds=float(config["QUEUE_TERMS_SECONDS"]),
        keep_seconds=float(config["QUEUE_TERMS_KEEP_SECONDS"]),
    )
