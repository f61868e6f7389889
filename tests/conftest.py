"""Shared fixtures: real services on free loopback ports, never in-process fakes; a small local platform (settings
in a temp dir, a generated warehouse, the loaded feature repo) for tests that need data but no services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from featurekit.config import Settings
from featurekit.services.redis_server import RedisServer
from support.local_platform import SPEC, local_settings


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


@pytest.fixture(scope="session")
def make_settings():
    """Build local settings for a data directory (and optionally a Redis URL)."""
    return local_settings


@pytest.fixture(scope="module")
def platform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from examples.cash_advance.warehouse import generate
    from featurekit.warehouse.load import load_duckdb

    data_dir = tmp_path_factory.mktemp("platform")
    load_duckdb(generate(SPEC), data_dir / "warehouse.duckdb")
    return data_dir


@pytest.fixture(scope="module")
def offline_settings(platform_dir: Path) -> Settings:
    return local_settings(platform_dir)


@pytest.fixture(scope="module")
def repo(offline_settings: Settings) -> Any:
    """The feature repo loaded for the local platform (a ``LoadedRepo``; Feast is imported only when asked for)."""
    from featurekit.repo.loader import load_repo

    return load_repo(offline_settings)
