"""The DAGs on the Airflow that MWAA runs (``infra/mwaa/requirements.txt``, Terraform's ``airflow_version``), with
their tasks executed in the kit's locked environment, as deployed (docs/deploy.md, "Runtimes").

MWAA's Airflow (3.0.6) cannot share an environment with the kit's locked dependencies, so there Airflow only parses
and schedules the DAGs, and every task body runs in ``FEATUREKIT_TASK_PYTHON`` (the kit's environment). Here the MWAA
Airflow is ``.venv-mwaa-airflow`` (``scripts/mwaa_airflow_env.sh``, run by ``make test``); it sees the kit's source
on ``PYTHONPATH`` only, as MWAA sees the deployed wheel, and the task interpreter is this test's (the locked .venv).
The hourly DAG runs for one interval against the real project (DuckDB warehouse, offline store, Redis).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from featurekit.offline.layout import partition_value
from featurekit.offline.storage import offline_location
from featurekit.orchestration.runner import airflow_env, dags_folder, run_dags
from featurekit.orchestration.task_process import TASK_PYTHON_ENV
from support.batch_project import HOUR, REPO_ROOT, BatchProject

MWAA_VENV = REPO_ROOT / ".venv-mwaa-airflow"
REQUIREMENTS = REPO_ROOT / "infra" / "mwaa" / "requirements.txt"
STEPS = ("extract", "monitor", "validate", "plan_shards", "materialize", "record", "freshness", "consistency")

PARSE = """
import json, sys
import airflow
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
heavy = sorted(m for m in ("feast", "pandas", "pyspark", "great_expectations", "duckdb") if m in sys.modules)
removed = sorted(m for m in sys.argv[2].split(",") if m in sys.modules)
print(json.dumps({"version": airflow.__version__, "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dag_ids), "heavy": heavy, "removed_in_312": removed}))
"""
# Standard-library modules Python 3.12 removed (PEP 594's first batch, PEP 632, imp): MWAA's Airflow 3.0.6 parses the
# DAG files on Python 3.12 while this test runs 3.11 (the divergence declared in tests/infra/test_runtime_versions.py),
# so parsing must import none of them.
REMOVED_IN_PY312 = ("asynchat", "asyncore", "distutils", "imp", "smtpd")


def mwaa_airflow_version() -> str:
    (version,) = re.findall(r"^apache-airflow==(\S+)$", REQUIREMENTS.read_text(), re.M)
    return version


def mwaa_python() -> Path:
    python = MWAA_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{MWAA_VENV} is missing: run `make test` or scripts/mwaa_airflow_env.sh first")
    return python


def mwaa_env(home: Path) -> dict[str, str]:
    """The MWAA Airflow child's environment: its own home, the kit's source only, tasks in this interpreter."""
    return {**airflow_env(home, dags_folder()), "PYTHONPATH": str(REPO_ROOT / "src"), TASK_PYTHON_ENV: sys.executable}


def test_dags_parse_on_the_mwaa_airflow_without_the_kit_dependencies(project: BatchProject, tmp_path: Path) -> None:
    child = subprocess.run(
        [str(mwaa_python()), "-c", PARSE, str(REPO_ROOT / "dags"), ",".join(REMOVED_IN_PY312)],
        env={**os.environ, **mwaa_env(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    parsed = json.loads(child.stdout.strip().splitlines()[-1])
    assert parsed["version"] == mwaa_airflow_version()
    assert parsed["errors"] == {}
    assert parsed["dags"] == ["featurekit_daily", "featurekit_hourly", "featurekit_maintenance"]
    assert parsed["heavy"] == []  # the DAG files need nothing MWAA's Airflow does not have
    assert parsed["removed_in_312"] == []  # nothing that MWAA's Python 3.12 no longer has


def test_hourly_dag_runs_on_the_mwaa_airflow_with_tasks_in_the_kit_env(project: BatchProject, tmp_path: Path) -> None:
    (result,), log = run_dags(
        [("hourly", HOUR)], home=tmp_path / "home", python=str(mwaa_python()), extra_env=mwaa_env(tmp_path / "home")
    )
    assert result.state == "success", log[-6000:]
    views = {task.split(".")[0] for task in result.tasks}
    assert set(result.tasks) == {f"{v}.{step}" for v in views for step in STEPS}
    assert set(result.tasks.values()) == {"success"}
    for view in views:  # the kit ran: the interval's partition is in the offline store
        rows = offline_location(project.settings.offline_store).read_partition(
            view, partition_value(HOUR.start, "hourly")
        )
        assert rows.num_rows > 0, view


def test_task_process_keeps_the_failure_policy(project: BatchProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the kit's environment, a deterministic failure still fails the task at once, naming the cause."""
    from featurekit.orchestration.task_process import fail_fast_exception, run_step

    monkeypatch.setenv(TASK_PYTHON_ENV, sys.executable)
    with pytest.raises(fail_fast_exception(), match="feature view 'no_such_view' is not in the registry"):
        run_step("extract", "no_such_view", HOUR, "local")
