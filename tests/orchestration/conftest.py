"""Fixtures for the DAG tests: one migrated Airflow per session, a fresh batch project per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.airflow_session import start_airflow
from support.batch_project import BatchProject, make_project


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("airflow")
    return start_airflow(base / "home", base / "cache")


@pytest.fixture
def project(airflow_home: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> BatchProject:
    return make_project(tmp_path, redis_url, monkeypatch)
