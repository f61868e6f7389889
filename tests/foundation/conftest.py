"""Fixtures: a small local platform (settings in a temp dir, a generated warehouse, the loaded feature repo)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.config import Settings, load_settings
from featurekit.repo.loader import LoadedRepo, load_repo
from featurekit.warehouse.load import load_duckdb

END = datetime(2026, 1, 1)
SPEC = WarehouseSpec(users=400, days=35, end=END, seed=3)


def local_settings(data_dir: Path, redis_url: str = "") -> Settings:
    return load_settings(
        "local",
        environ={"FEATUREKIT_DATA_DIR": str(data_dir), "FEATUREKIT_REDIS_URL": redis_url},
    )


@pytest.fixture(scope="session")
def make_settings():
    """Build local settings for a data directory (and optionally a Redis URL)."""
    return local_settings


@pytest.fixture(scope="module")
def platform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("platform")
    load_duckdb(generate(SPEC), data_dir / "warehouse.duckdb")
    return data_dir


@pytest.fixture(scope="module")
def offline_settings(platform_dir: Path) -> Settings:
    return local_settings(platform_dir)


@pytest.fixture(scope="module")
def repo(offline_settings: Settings) -> LoadedRepo:
    return load_repo(offline_settings)
