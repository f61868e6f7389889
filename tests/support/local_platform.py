"""A small local platform for tests that need warehouse data but no services: the ``local`` environment with its
data directory moved, and the generated warehouse the ``platform_dir`` fixture (``tests/conftest.py``) loads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from examples.cash_advance.warehouse import WarehouseSpec
from featurekit.config import Settings, load_settings

END = datetime(2026, 1, 1)
SPEC = WarehouseSpec(users=400, days=35, end=END, seed=3)


def local_settings(data_dir: Path, redis_url: str = "") -> Settings:
    return load_settings(
        "local",
        environ={"FEATUREKIT_DATA_DIR": str(data_dir), "FEATUREKIT_REDIS_URL": redis_url},
    )
