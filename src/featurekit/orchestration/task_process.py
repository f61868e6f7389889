"""Where a DAG task's body runs: in the Airflow process, or in the kit's own locked environment.

On MWAA the Airflow is AWS's (3.0.6, installed under MWAA's constraints), and it cannot host the kit's locked
dependencies: Feast 0.67 needs Starlette >= 1.0.1, which that Airflow's FastAPI excludes. So there Airflow only
schedules and each task runs its body with the interpreter of the kit's environment, ``FEATUREKIT_TASK_PYTHON``
(a virtual environment that MWAA's startup script builds from the deployed wheel and ``uv.lock``'s pins; see
``docs/deploy.md``), as ``python -m featurekit.orchestration.task_process '<json>'``. Unset (local Airflow, which is
the locked one), the body runs in-process.

The same call in both cases keeps the kit's failure policy: the child reports its result or its error as one JSON
line on stdout; exit code 3 is a deterministic failure (the kit's ``AirflowFailException``: no retry), any other
failure is retried by Airflow. The child's log goes to the task's log (inherited stderr).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from datetime import datetime
from typing import Any

from featurekit.errors import TransientError
from featurekit.intervals import DataInterval

TASK_PYTHON_ENV = "FEATUREKIT_TASK_PYTHON"
RESULT_MARKER = "FEATUREKIT_TASK_RESULT "
FAIL_FAST_EXIT = 3
STEPS = (
    "extract",
    "monitor",
    "validate",
    "plan_shards",
    "materialize",
    "record_shards",
    "freshness",
    "consistency",
    "reconcile",
)


class TaskProcessError(TransientError, RuntimeError):
    """The task's process failed in a way a retry may fix (or died without reporting); the message says how."""


def fail_fast_exception() -> type[Exception]:
    """Airflow's non-retried failure: ``airflow.sdk.exceptions`` from 3.1 on, ``airflow.exceptions`` in 3.0."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # Airflow 3.0 (MWAA)
        from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    return AirflowFailException


def run_step(step: str, view: str | None, interval: DataInterval | None, env: str | None, *args: Any) -> Any:
    """Run one task body, in ``FEATUREKIT_TASK_PYTHON`` when it is set, else here.

    ``args`` are the step's further arguments (a shard, the shards' results): JSON values, as Airflow's XComs are.
    """
    if step not in STEPS:
        raise ValueError(f"unknown task step {step!r}; expected one of {STEPS}")
    python = os.environ.get(TASK_PYTHON_ENV)
    if not python:
        return _call(step, view, interval, env, *args)
    request = {
        "step": step,
        "view": view,
        "start": interval.start.isoformat() if interval else None,
        "end": interval.end.isoformat() if interval else None,
        "env": env,
        "args": list(args),
    }
    command = [python, "-m", "featurekit.orchestration.task_process", json.dumps(request)]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    except OSError as exc:
        raise TaskProcessError(f"{step} {view}: cannot start {TASK_PYTHON_ENV}={python}: {exc}") from exc
    reports = [line[len(RESULT_MARKER) :] for line in done.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    other = "\n".join(line for line in done.stdout.splitlines() if not line.startswith(RESULT_MARKER))
    if other:
        print(other, file=sys.stderr)
    report = json.loads(reports[-1]) if reports else {}
    if done.returncode == 0 and "result" in report:
        return report["result"]
    error = report.get("error") or f"the task process exited with code {done.returncode} without a report"
    if done.returncode == FAIL_FAST_EXIT:
        raise fail_fast_exception()(error)
    raise TaskProcessError(f"{step} {view or ''} (in {python}): {error}")


def _call(step: str, view: str | None, interval: DataInterval | None, env: str | None, *args: Any) -> Any:
    from featurekit.orchestration import tasks

    if step == "reconcile":
        return tasks.reconcile(env)

    if view is None or interval is None:
        raise ValueError(f"step {step!r} needs a view and a data interval")
    return getattr(tasks, step)(view, interval, env, *args)


def main(argv: list[str] | None = None) -> int:
    """The child: ``python -m featurekit.orchestration.task_process '{"step": ..., "view": ..., ...}'``."""
    args = sys.argv[1:] if argv is None else argv
    request = json.loads(args[0])
    interval = None
    if request.get("start"):
        interval = DataInterval(datetime.fromisoformat(request["start"]), datetime.fromisoformat(request["end"]))
    try:
        result = _call(request["step"], request.get("view"), interval, request.get("env"), *request.get("args", []))
    except Exception as exc:
        traceback.print_exc()
        print(RESULT_MARKER + json.dumps({"error": str(exc) or type(exc).__name__}), flush=True)
        return FAIL_FAST_EXIT if isinstance(exc, fail_fast_exception()) else 1
    print(RESULT_MARKER + json.dumps({"result": result}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
