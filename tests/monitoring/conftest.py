"""A feature repo with six days of extracted daily history (no Redis: monitoring reads the offline store only)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.warehouse.load import load_duckdb
from support.monitoring_history import END, HISTORY_DAYS, TODAY, USERS, History, monitoring_settings


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
