"""A small deployed platform for the operations tests: warehouse, applied registry, offline store, Redis rows (the
fixtures in ``tests/observability/conftest.py`` build it once per session or module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.config import Settings, load_settings
from featurekit.intervals import floor_to
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
