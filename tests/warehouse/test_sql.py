"""Feature view SQL: written once in the Athena dialect, rendered per interval, transpiled to DuckDB."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlglot

from featurekit.config.loader import project_root
from featurekit.intervals import DataInterval
from featurekit.warehouse.sql import FeatureSQL, FeatureSQLError, load_feature_sql

INTERVAL = DataInterval(datetime(2025, 12, 31), datetime(2026, 1, 1))
VIEWS = ["user_profile", "user_txn_30d", "user_txn_24h", "user_txn_1h", "user_balance_live"]


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_sql_renders_for_athena_and_duckdb(view: str) -> None:
    sql = load_feature_sql(project_root() / "feature_repo", view)
    athena = sql.athena(INTERVAL)
    assert "'2026-01-01 00:00:00'" in athena
    assert sqlglot.parse_one(athena, read="athena").find(sqlglot.exp.Placeholder) is None
    sqlglot.parse_one(sql.duckdb(INTERVAL), read="duckdb")


def test_missing_sql_names_the_expected_path(tmp_path: Path) -> None:
    with pytest.raises(FeatureSQLError, match=r"no SQL file: expected .*feature_views/ghost.sql"):
        load_feature_sql(tmp_path, "ghost")


def test_unknown_parameter_and_non_query_are_rejected(tmp_path: Path) -> None:
    bad = FeatureSQL("v", tmp_path / "v.sql", "SELECT 1 WHERE x < :run_date")
    with pytest.raises(FeatureSQLError, match="unknown parameters"):
        bad.render(INTERVAL)
    with pytest.raises(FeatureSQLError, match="exactly one SELECT"):
        FeatureSQL("v", tmp_path / "v.sql", "DROP TABLE users").render(INTERVAL)
