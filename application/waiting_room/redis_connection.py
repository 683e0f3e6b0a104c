"""A Redis client from a URL: one server (``redis://``, ``rediss://``, ``unix://``) or the
primary of a service that Redis Sentinel watches (``redis+sentinel://host:port,host:port/<service>``,
optionally ``/<service>/<db>``: the URL Flask-Limiter's storage also takes, so one setting
serves the queue and the rate limits).

Through Sentinel, every new connection asks the Sentinels which server is the primary,
and a connection to a server that is no longer the primary is dropped when it comes back
to the pool: after a failover, requests fail (503) until the Sentinels have promoted the
replica, then reach the new primary without a restart.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel://"


class BlockingSentinelConnectionPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """The primary's connections, at most ``max_connections``, a caller waiting for a free
    one rather than failing at once (redis-py's own Sentinel pool only fails)."""


def connect(url: str, max_connections: int, wait: float, timeout: float) -> redis.Redis[bytes]:
    """A client with at most ``max_connections`` connections, waiting up to ``wait`` seconds
    for a free one, and ``timeout`` seconds for a server (or a Sentinel) to answer."""
    if not url.startswith(SENTINEL_SCHEME):
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=wait, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        return redis.Redis(connection_pool=pool)
    sentinels, service, db = parse_sentinel_url(url)
    watchers = Sentinel(sentinels, socket_timeout=timeout, socket_connect_timeout=timeout)
    options: dict[str, Any] = {"max_connections": max_connections, "timeout": wait}
    return watchers.master_for(
        service,
        connection_pool_class=BlockingSentinelConnectionPool,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        db=db,
        **options,
    )


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """The Sentinels' addresses, the service's name and the database number of ``url``."""
    hosts, _, path = url.removeprefix(SENTINEL_SCHEME).partition("/")
    service, _, db = path.partition("/")
    try:
        sentinels = [(host, int(port)) for host, _, port in (item.rpartition(":") for item in hosts.split(","))]
        if not service or not all(host for host, _ in sentinels):
            raise ValueError
        return sentinels, service, int(db or 0)
    except ValueError:
        raise ValueError(
            f"A Sentinel URL is redis+sentinel://host:port[,host:port...]/<service>[/<db>], got {url!r}"
        ) from None
