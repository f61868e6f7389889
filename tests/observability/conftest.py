"""A small deployed platform for the operations tests: warehouse, applied registry, offline store, Redis rows.

Built once per module against the session's real Redis. The data ends at the current hour, so the batch views are
within their freshness SLOs and ttl when the tests run; the stream views hold only their warehouse backfill.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import pytest
import redis

from featurekit.services.redis_server import RedisServer
from support.ops_platform import Platform, build_platform


@pytest.fixture(scope="session")
def ops_redis() -> Iterator[RedisServer]:
    """A redis-server of the ops tests' own: the shared ``redis_url`` fixture FLUSHALLs, which would wipe the
    platforms below between their tests."""
    with RedisServer.start() as server:
        yield server


def _platform_on_db(tmp_path_factory: pytest.TempPathFactory, server: RedisServer, db: int) -> Iterator[Platform]:
    url = urlunparse(urlparse(server.url)._replace(path=f"/{db}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield build_platform(tmp_path_factory.mktemp(f"ops-platform-db{db}"), url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, ops_redis: RedisServer) -> Iterator[Platform]:
    """A platform the tests only read (db 1)."""
    yield from _platform_on_db(tmp_path_factory, ops_redis, 1)


@pytest.fixture(scope="module")
def corruptible_platform(tmp_path_factory: pytest.TempPathFactory, ops_redis: RedisServer) -> Iterator[Platform]:
    """A platform whose online rows a test may overwrite (db 2), rebuilt for each module that asks for it."""
    yield from _platform_on_db(tmp_path_factory, ops_redis, 2)
