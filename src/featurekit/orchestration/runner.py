"""Run a generated DAG for given data intervals with Airflow's ``dag.test()``: the demo, ``featurekit dag test``
and the tests use it to execute the real DAG file without a scheduler.

Airflow reads its configuration once per process, at import. So a run happens in a child process
(``python -m featurekit.orchestration.runner``) with its own ``AIRFLOW_HOME`` (SQLite metadata DB, migrated first),
``DAGS_FOLDER`` pointing at the repo's ``dags/`` and example DAGs off; the caller's process never imports Airflow.
The child prints one JSON line per run with the DAG run's state and each task's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from featurekit.intervals import DataInterval, floor_to, grain_length

RESULT_MARKER = "FEATUREKIT_DAG_RUN "


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    interval: DataInterval
    state: str
    tasks: dict[str, str]  # a mapped task (materialize) is "success" when every instance is, else a failing state
    mapped: dict[str, list[str]] = field(default_factory=dict)  # mapped task -> state per map index
    labels: dict[str, list[str]] = field(default_factory=dict)  # mapped task -> rendered label per map index

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def failed_tasks(self) -> list[str]:
        return sorted(t for t, s in self.tasks.items() if s not in ("success", "skipped"))


def airflow_env(home: Path, dags_folder: Path) -> dict[str, str]:
    """Environment of an isolated Airflow: its own home and SQLite DB, the kit's DAG folder, no examples."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "utc",  # data intervals and logical dates are UTC on any host
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "GX_ANALYTICS_ENABLED": "False",
    }


def dags_folder() -> Path:
    from featurekit.config.loader import project_root

    return project_root() / "dags"


def intervals_between(schedule: str, start: datetime, end: datetime) -> list[DataInterval]:
    """Whole ``schedule`` intervals in ``[start, end)``, oldest first (a backfill's runs)."""
    first, last = floor_to(start, schedule), floor_to(end, schedule)
    if last <= first:
        raise ValueError(f"no whole {schedule} interval between {start} and {end}")
    return DataInterval(first, last).split(schedule)


def run_dags(
    runs: list[tuple[str, DataInterval]],
    *,
    home: Path,
    env: str | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 1800,
    python: str | None = None,
) -> tuple[list[DagRunResult], str]:
    """Run ``(schedule, interval)`` pairs in order in one child process (Airflow starts once); returns the
    results and the child's log. Raises if the child died before reporting every run. ``python``: the child's
    interpreter (default: this one), e.g. one with the Airflow version MWAA runs."""
    home.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **airflow_env(home, dags_folder()), **(extra_env or {})}
    if env:
        child_env["FEATUREKIT_ENV"] = env
    command = [python or sys.executable, "-m", "featurekit.orchestration.runner"]
    for schedule, interval in runs:
        command += [schedule, f"{interval.start.isoformat()}/{interval.end.isoformat()}"]
    child = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=timeout)
    output = child.stdout + child.stderr
    results = [_parse(line) for line in child.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if len(results) < len(runs):
        raise RuntimeError(f"running the DAGs failed (exit {child.returncode}):\n{output[-6000:]}")
    return results, output


def _parse(line: str) -> DagRunResult:
    data = json.loads(line[len(RESULT_MARKER) :])
    interval = DataInterval(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))
    return DagRunResult(
        dag_id=data["dag_id"], interval=interval, state=data["state"], tasks=data["tasks"], mapped=data["mapped"]
    )


def migrate_metadata_db() -> None:
    """Create or upgrade the Airflow metadata DB of this process's ``AIRFLOW_HOME`` (idempotent)."""
    from airflow.utils.db import initdb

    initdb()


def test_interval(dag: Any, interval: DataInterval, *, mark_success: str | None = None) -> DagRunResult:
    """``dag.test()`` for one data interval (a rerun of the same interval clears and repeats it); tasks whose id
    matches the regex ``mark_success`` are marked successful without running (rerun only the later steps)."""
    grain = "hourly" if dag.dag_id.endswith("hourly") else "daily"
    if interval.end - interval.start != grain_length(grain) or floor_to(interval.start, grain) != interval.start:
        raise ValueError(f"{dag.dag_id} runs whole {grain} intervals; {interval} is not one")
    # The DAG's timetable infers a manual run's interval as the whole period ending at ``logical_date``.
    run = dag.test(logical_date=interval.end, mark_success_pattern=mark_success)
    actual = DataInterval(run.data_interval_start, run.data_interval_end)
    if actual != interval:
        raise RuntimeError(f"{dag.dag_id}: ran interval {actual}, expected {interval}")
    tasks: dict[str, str] = {}
    mapped: dict[str, list[str]] = {}
    labels: dict[str, list[str]] = {}
    for ti in sorted(run.get_task_instances(), key=lambda ti: (ti.task_id, ti.map_index)):
        if ti.map_index >= 0:
            mapped.setdefault(ti.task_id, []).append(str(ti.state))
            labels.setdefault(ti.task_id, []).append(str(ti.rendered_map_index))
        else:
            tasks[ti.task_id] = str(ti.state)
    for task_id, states in mapped.items():
        tasks[task_id] = next((s for s in states if s != "success"), "success")
    state = run.state.value if hasattr(run.state, "value") else str(run.state)
    return DagRunResult(dag_id=dag.dag_id, interval=interval, state=state, tasks=tasks, mapped=mapped, labels=labels)


def run_and_report(pairs: list[str]) -> int:
    """Run ``SCHEDULE START/END`` pairs with ``dag.test()`` in this process, printing one result line per run;
    returns the exit code (0 when every run succeeded)."""
    if not pairs or len(pairs) % 2:
        raise ValueError(f"expected SCHEDULE START/END pairs, got {pairs!r}")
    migrate_metadata_db()
    from featurekit.orchestration.factory import build_dags, dag_id

    dags = build_dags()
    ok = True
    for schedule, span in zip(pairs[::2], pairs[1::2], strict=True):
        start, end = span.split("/")
        interval = DataInterval(datetime.fromisoformat(start), datetime.fromisoformat(end))
        result = test_interval(dags[dag_id(schedule)], interval)
        ok = ok and result.succeeded
        payload = {
            "dag_id": result.dag_id,
            "start": result.interval.start.isoformat(),
            "end": result.interval.end.isoformat(),
            "state": result.state,
            "tasks": result.tasks,
            "mapped": result.mapped,
        }
        print(RESULT_MARKER + json.dumps(payload), flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> None:
    """Child process: ``python -m featurekit.orchestration.runner SCHEDULE START/END [SCHEDULE START/END ...]``."""
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def run(
        runs: list[str] = typer.Argument(..., help="SCHEDULE START/END pairs (ISO-8601 times), run in order."),
    ) -> None:
        """Run the generated DAGs for the given data intervals with ``dag.test()``; one JSON line per run."""
        if len(runs) % 2:
            raise typer.BadParameter(f"expected SCHEDULE START/END pairs, got {len(runs)} values", param_hint="RUNS")
        raise typer.Exit(run_and_report(runs))

    app(args=argv, prog_name="python -m featurekit.orchestration.runner")


if __name__ == "__main__":
    main()
