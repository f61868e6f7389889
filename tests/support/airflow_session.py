"""One Airflow per test session: its own ``AIRFLOW_HOME`` and SQLite metadata DB in a temp dir, migrated once.

Airflow reads its configuration when first imported, so :func:`start_airflow` must run before any test imports
Airflow; test modules therefore import Airflow inside tests or fixtures only.
"""

from __future__ import annotations

import os
from pathlib import Path

_HOME: Path | None = None


def start_airflow(home: Path, cache_dir: Path) -> Path:
    """Point Airflow at ``home`` (first call wins for the process) and migrate its DB."""
    global _HOME
    if _HOME is not None:
        return _HOME
    from featurekit.orchestration.runner import airflow_env, dags_folder, migrate_metadata_db

    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(home, dags_folder()))
    os.environ.update(
        {
            "FEATUREKIT_CACHE_DIR": str(cache_dir),
            "FEATUREKIT_DAG_RETRIES": "2",
            "FEATUREKIT_DAG_RETRY_DELAY_SECONDS": "1",
        }
    )
    migrate_metadata_db()
    _HOME = home
    return home
