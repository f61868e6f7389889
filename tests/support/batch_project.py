"""A throw-away featurekit project for batch tests: config and feature repo copied to a temp root (so a test may
break a view's SQL), a small generated warehouse, the repo applied to a temp registry, Redis from the fixture.

Everything is selected through the environment (``FEATUREKIT_ROOT``, ``FEATUREKIT_DATA_DIR``,
``FEATUREKIT_REDIS_URL``), exactly as an Airflow worker would be configured, so the real DAG file runs unchanged; the
DAG policy is in the copied environment files (:func:`support.airflow_session.configure_dags`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit import duckdb_utc
from featurekit.config import Settings, load_settings
from featurekit.intervals import DataInterval, floor_to
from featurekit.warehouse.load import load_duckdb
from support.airflow_session import configure_dags

REPO_ROOT = Path(__file__).resolve().parents[2]
# Online values expire after each view's ttl (hours for the hourly view), so the data ends at the current hour.
END = floor_to(datetime.now(UTC), "hourly")
DAY = DataInterval(floor_to(END, "daily") - timedelta(days=1), floor_to(END, "daily"))
HOUR = DataInterval(END - timedelta(hours=1), END)


@dataclass
class BatchProject:
    root: Path
    data: Path
    redis_url: str

    @property
    def settings(self) -> Settings:
        return load_settings("local")

    def warehouse(self, statement: str) -> None:
        """Run DuckDB SQL against the warehouse (fault injection: drop, alter, insert rows)."""
        with duckdb_utc.connect(self.settings.warehouse.path) as con:
            con.execute(statement)

    def sql_file(self, view: str) -> Path:
        return self.root / "feature_repo" / "feature_views" / f"{view}.sql"

    def view(self, name: str) -> Any:
        from featurekit.orchestration.tasks import registry_view

        return registry_view(self.settings, name)

    def run(self, schedule: str, interval: DataInterval, *, mark_success: str | None = None) -> Any:
        """Run the real DAG (parsed from ``dags/``) for ``interval`` with ``dag.test()``, in this process; tasks
        matching the regex ``mark_success`` are marked successful without running."""
        from featurekit.orchestration.factory import build_dags, dag_id
        from featurekit.orchestration.runner import test_interval

        return test_interval(build_dags()[dag_id(schedule)], interval, mark_success=mark_success)


def make_project(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, *, users: int = 150, days: int = 6
) -> BatchProject:
    root, data = tmp_path / "project", tmp_path / "data"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".feast*", "data")
    for name in ("config", "feature_repo"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=ignore)
    configure_dags(root)
    monkeypatch.setenv("FEATUREKIT_ROOT", str(root))
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(data))
    monkeypatch.setenv("FEATUREKIT_REDIS_URL", redis_url)
    monkeypatch.setenv("FEATUREKIT_ENV", "local")
    project = BatchProject(root=root, data=data, redis_url=redis_url)
    settings = project.settings
    spec = WarehouseSpec(users=users, days=days, end=END.replace(tzinfo=None), seed=11)
    load_duckdb(generate(spec), settings.warehouse.path)
    from featurekit.repo.apply import apply_repo, checked_repo

    apply_repo(settings, checked_repo(settings))
    return project
