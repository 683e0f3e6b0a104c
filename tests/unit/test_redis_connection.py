"""Redis clients from a URL: one server, or the primary the Sentinels name
(``redis+sentinel://host:port,.../<service>[/<db>]``), with a bounded pool that waits."""

from __future__ import annotations

import pytest
import redis

from application.waiting_room.redis_connection import BlockingSentinelConnectionPool, connect, parse_sentinel_url


def test_a_sentinel_url_names_every_sentinel_the_service_and_the_database():
    assert parse_sentinel_url("redis+sentinel://127.0.1.43:26379,127.0.1.44:26380/ticketledger") == (
        [("127.0.1.43", 26379), ("127.0.1.44", 26380)],
        "ticketledger",
        0,
    )
    assert parse_sentinel_url("redis+sentinel://h:1/queue/3") == ([("h", 1)], "queue", 3)


@pytest.mark.parametrize(
    "url", ["redis+sentinel://h:1", "redis+sentinel://h:1/", "redis+sentinel://h/svc", "redis+sentinel://:1/svc"]
)
def test_a_sentinel_url_without_a_service_or_a_port_is_refused_with_its_shape(url: str):
    with pytest.raises(ValueError, match=r"redis\+sentinel://host:port\[,host:port\.\.\.\]/<service>"):
        parse_sentinel_url(url)


def test_through_sentinel_the_pool_is_bounded_and_waits_like_the_direct_one():
    client = connect("redis+sentinel://127.0.3.9:26379/queue", max_connections=7, wait=3.0, timeout=2.0)
    pool = client.connection_pool
    assert isinstance(pool, BlockingSentinelConnectionPool) and isinstance(pool, redis.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout, pool.service_name) == (7, 3.0, "queue")
    assert pool.connection_kwargs["socket_timeout"] == 2.0
    direct = connect("redis://127.0.0.1:6379/0", max_connections=7, wait=3.0, timeout=2.0).connection_pool
    assert isinstance(direct, redis.BlockingConnectionPool) and direct.max_connections == 7
