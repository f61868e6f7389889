"""Monitoring test data: a feature repo with six days of extracted daily history (the ``history`` fixture in
``tests/monitoring/conftest.py`` builds it; monitoring reads the offline store only, no Redis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from featurekit.config import Settings, load_settings
from featurekit.intervals import DataInterval, floor_to

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
