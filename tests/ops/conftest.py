"""A small deployed platform for the operations tests: warehouse, applied registry, offline store, Redis rows.

Built once per module against the session's real Redis. The data ends at the current hour, so the batch views are
within their freshness SLOs and ttl when the tests run; the stream views hold only their warehouse backfill.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import redis

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.config import Settings, load_settings
from featurekit.intervals import floor_to
from featurekit.services.redis_server import RedisServer
from featurekit.warehouse.load import load_duckdb

USERS = 60


@dataclass
class Platform:
    settings: Settings
    end: datetime
    redis_url: str


def ops_settings(data_dir: Path, redis_url: str) -> Settings:
    return load_settings("local", environ={"FEATUREKIT_DATA_DIR": str(data_dir), "FEATUREKIT_REDIS_URL": redis_url})


def build_platform(data_dir: Path, redis_url: str) -> Platform:
    from featurekit.pipelines.backfill import backfill
    from featurekit.repo.apply import apply_repo, checked_repo

    settings = ops_settings(data_dir, redis_url)
    end = floor_to(datetime.now(UTC), "hourly")
    spec = WarehouseSpec(users=USERS, days=35, end=end.replace(tzinfo=None), seed=11)
    load_duckdb(generate(spec), settings.warehouse.path)
    repo = checked_repo(settings)
    apply_repo(settings, repo)
    hourly = [v for v in repo.batch_views if v.tags.get("schedule") == "hourly"]
    daily = [v for v in repo.batch_views if v not in hourly]
    backfill(settings, hourly, end - timedelta(hours=3), end)
    backfill(settings, daily, end - timedelta(days=1), end)
    backfill(settings, repo.stream_views, end - timedelta(days=1), end)
    return Platform(settings=settings, end=end, redis_url=redis_url)


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
