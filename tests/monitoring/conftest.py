"""A feature repo with six days of extracted daily history (no Redis: monitoring reads the offline store only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.config import Settings, load_settings
from featurekit.intervals import DataInterval, floor_to
from featurekit.warehouse.load import load_duckdb

USERS = 800
HISTORY_DAYS = 6
END = floor_to(datetime.now(UTC), "daily")
TODAY = DataInterval(END - timedelta(days=1), END)


@dataclass
class History:
    settings: Settings
    repo: Any
    data: Path

    def view(self, name: str) -> Any:
        return next(v for v in [*self.repo.batch_views, *self.repo.stream_views] if v.name == name)

    def warehouse(self, statement: str) -> None:
        with duckdb.connect(str(self.settings.warehouse.path)) as con:
            con.execute(statement)

    def lineage(self) -> Any:
        from featurekit.monitoring.impact import Lineage

        return Lineage.from_repo(self.repo)


def monitoring_settings(data: Path) -> Settings:
    """The local environment with its data directory moved, as ``FEATUREKIT_DATA_DIR`` does for the CLI."""
    return load_settings("local", environ={"FEATUREKIT_DATA_DIR": str(data)})


@pytest.fixture
def history(tmp_path: Path) -> History:
    """``user_profile`` and ``user_txn_30d`` extracted (and profiled) for the six days before TODAY."""
    from featurekit.pipelines.backfill import backfill
    from featurekit.repo.loader import load_repo

    settings = monitoring_settings(tmp_path / "data")
    load_duckdb(generate(WarehouseSpec(users=USERS, days=40, end=END.replace(tzinfo=None), seed=5)),
                settings.warehouse.path)  # fmt: skip
    repo = load_repo(settings)
    views = [v for v in repo.batch_views if v.name in ("user_profile", "user_txn_30d")]
    backfill(settings, views, TODAY.start - timedelta(days=HISTORY_DAYS), TODAY.start, materialize=False)
    return History(settings, repo, tmp_path / "data")
