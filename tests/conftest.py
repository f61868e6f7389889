"""Shared fixtures: real services on free loopback ports, never in-process fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from featurekit.services.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real ``redis-server`` for the test session."""
    with RedisServer.start() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session Redis, flushed before each test so tests do not see each other's keys."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url
