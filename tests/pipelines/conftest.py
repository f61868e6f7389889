"""Settings in a temp data dir with the real feature repo applied; no Airflow needed for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurekit.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    from featurekit.repo.apply import apply_repo, checked_repo

    data = tmp_path / "data"
    loaded = load_settings(
        "local",
        overrides={
            "data_dir": str(data),
            "registry": {"path": str(data / "registry.db")},
            "warehouse": {"path": str(data / "warehouse.duckdb")},
            "offline_store": {"root": str(data / "offline")},
            "online_store": {"tiers": {"hot": {"url": redis_url}, "warm": {"url": redis_url}}},
        },
    )
    apply_repo(loaded, checked_repo(loaded))
    return loaded
