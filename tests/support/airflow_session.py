"""One Airflow per test session: its own ``AIRFLOW_HOME`` and SQLite metadata DB in a temp dir, migrated once.

Airflow reads its configuration when first imported, so :func:`start_airflow` must run before any test imports
Airflow; test modules therefore import Airflow inside tests or fixtures only. The DAG policy of a test project
(short retries, the session's manifest cache) is set in its environment files by :func:`configure_dags`.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from featurekit.config.merge import deep_merge

_HOME: Path | None = None
_CACHE: Path | None = None


def start_airflow(home: Path, cache_dir: Path) -> Path:
    """Point Airflow at ``home`` (first call wins for the process) and migrate its DB."""
    global _HOME, _CACHE
    if _HOME is not None:
        return _HOME
    from featurekit.orchestration.runner import airflow_env, dags_folder, migrate_metadata_db

    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(home, dags_folder()))
    migrate_metadata_db()
    _HOME, _CACHE = home, cache_dir
    return home


def configure_dags(root: Path) -> None:
    """Give every environment file of the test project ``root`` the tests' DAG policy: two quick retries, and the
    session's DAG-manifest cache (derived once per feature repo for the whole session). No-op before Airflow starts."""
    if _CACHE is None:
        return
    policy = {"orchestration": {"retries": 2, "retry_delay_seconds": 1, "manifest_cache_dir": str(_CACHE)}}
    for path in (root / "config").glob("*.yaml"):
        path.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(path.read_text()), policy), sort_keys=False))
