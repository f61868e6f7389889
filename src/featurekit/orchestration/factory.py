"""Build one Airflow DAG per ``schedule`` tag from the feature repo's manifest.

Each view gets a task group ``<view>``:
``extract -> monitor -> validate -> plan_shards -> materialize[0..N-1] -> record -> freshness -> consistency``.
``materialize`` is a mapped task (dynamic task mapping): ``plan_shards`` decides at run time how many shards write
the partition (the view's ``shards`` tag, else its validated row count; one for small views), each shard is its own
task instance, retried alone, and ``record`` marks the interval materialized once all of them succeeded.
The DAG's data interval is the pipeline interval, so a scheduled run, a manual run and every catchup run of a
backfill touch exactly one partition per view. Views are independent groups: one view failing its checks does not
hold back the others. Adding a view tagged ``schedule: daily`` adds its group on the next parse; no DAG file changes.

Parse cost: this module imports only ``airflow.sdk``, the settings loader and the manifest reader; task bodies
import the pipelines (Feast, pandas, Great Expectations) when they run, on the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, TaskGroup, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable  # airflow.sdk re-exports it only from 3.1 on

from featurekit.intervals import DataInterval
from featurekit.orchestration.manifest import DAG_SCHEDULES, ViewEntry, load_manifest
from featurekit.orchestration.task_process import run_step

if TYPE_CHECKING:
    from featurekit.config.settings import OrchestrationSettings

CRONS = {"hourly": "0 * * * *", "daily": "0 0 * * *"}


def _retry_backoff() -> float | bool:
    """Exponential retry backoff: a multiplier since Airflow 3.1, a flag (base 2) in 3.0, the version MWAA runs."""
    from airflow import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return 2.0 if (major, minor) >= (3, 1) else True


RETRY_BACKOFF = _retry_backoff()
OWNER = "feature-platform"


@dataclass(frozen=True)
class DagPolicy:
    """Scheduling knobs shared by the generated DAGs; set per environment in ``orchestration`` of its settings.

    ``max_active_runs=1`` keeps catchup in interval order, so each run's row-count band is checked against the
    interval before it, and newer-wins writes are not needed to sort out concurrent runs (they would be correct
    anyway). Retries back off exponentially for transient faults; deterministic ones fail fast (see ``tasks``).
    """

    start_date: datetime
    retries: int = 3
    retry_delay: timedelta = timedelta(minutes=1)
    max_retry_delay: timedelta = timedelta(minutes=15)
    max_active_runs: int = 1
    catchup: bool = True

    @classmethod
    def from_settings(cls, settings: OrchestrationSettings) -> DagPolicy:
        return cls(
            start_date=settings.start_date,
            retries=settings.retries,
            retry_delay=timedelta(seconds=settings.retry_delay_seconds),
            catchup=settings.catchup,
        )


def dag_id(schedule: str) -> str:
    return f"featurekit_{schedule}"


def build_dags(env: str | None = None, policy: DagPolicy | None = None) -> dict[str, DAG]:
    """Every scheduled DAG for the environment's feature repo, keyed by ``dag_id`` (for a DAG file's globals)."""
    from featurekit.config import load_settings

    settings = load_settings(env)
    manifest = load_manifest(settings, env)
    policy = policy or DagPolicy.from_settings(settings.orchestration)
    dags = [build_dag(schedule, manifest.for_dag(schedule), policy, env=env) for schedule in DAG_SCHEDULES]
    return {dag.dag_id: dag for dag in dags}


def build_dag(schedule: str, views: list[ViewEntry], policy: DagPolicy, *, env: str | None = None) -> DAG:
    """The ``schedule`` DAG: one task group per view."""
    timeout = timedelta(hours=2) if schedule == "daily" else timedelta(minutes=50)
    dag = DAG(
        dag_id=dag_id(schedule),
        description=f"featurekit {schedule} batch features: warehouse -> offline store -> quality gate -> Redis",
        schedule=CronDataIntervalTimetable(CRONS[schedule], timezone="UTC"),
        start_date=policy.start_date,
        catchup=policy.catchup,
        max_active_runs=policy.max_active_runs,
        dagrun_timeout=timeout,
        tags=["featurekit", "batch", schedule],
        doc_md=__doc__,
        default_args={
            "owner": OWNER,
            "retries": policy.retries,
            "retry_delay": policy.retry_delay,
            "retry_exponential_backoff": RETRY_BACKOFF,
            "max_retry_delay": policy.max_retry_delay,
            "execution_timeout": timeout,
        },
    )
    with dag:
        for view in views:
            _view_group(view, env)
    return dag


def _view_group(view: ViewEntry, env: str | None) -> None:
    owner = view.owner or OWNER
    with TaskGroup(group_id=view.name, tooltip=f"{view.kind} view {view.name} ({view.schedule}, tier {view.tier})"):
        extracted = extract_task.override(task_id="extract", owner=owner)(view.name, env)
        monitored = monitor_task.override(task_id="monitor", owner=owner)(view.name, env, extracted)
        validated = validate_task.override(task_id="validate", owner=owner)(view.name, env, monitored)
        shards = plan_shards_task.override(task_id="plan_shards", owner=owner)(view.name, env, validated)
        written = materialize_task.override(task_id="materialize", owner=owner).partial(view=view.name, env=env)
        recorded = record_task.override(task_id="record", owner=owner)(view.name, env, written.expand(shard=shards))
        checked = freshness_task.override(task_id="freshness", owner=owner)(view.name, env, recorded)
        consistency_task.override(task_id="consistency", owner=owner)(view.name, env, checked)


def current_interval() -> DataInterval:
    """The running task's data interval (Airflow's ``data_interval_start``/``end``)."""
    context = get_current_context()
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None:
        raise RuntimeError("the running task has no data interval: featurekit tasks run only in the generated DAGs")
    # Plain stdlib datetimes: pendulum's leak into records and SQL literals otherwise.
    return DataInterval(datetime.fromtimestamp(start.timestamp(), UTC), datetime.fromtimestamp(end.timestamp(), UTC))


# The upstream-result parameters are typed Any: building the DAG passes them XComArgs, running the task the
# resolved values.


@task
def extract_task(view: str, env: str | None) -> dict[str, Any]:
    return run_step("extract", view, current_interval(), env)


@task
def monitor_task(view: str, env: str | None, extracted: Any) -> dict[str, Any]:
    return run_step("monitor", view, current_interval(), env)


@task
def validate_task(view: str, env: str | None, monitored: Any) -> dict[str, Any]:
    return run_step("validate", view, current_interval(), env)


@task
def plan_shards_task(view: str, env: str | None, validated: Any) -> list[dict[str, int]]:
    return run_step("plan_shards", view, current_interval(), env)


@task(map_index_template="{{ featurekit_shard }}")
def materialize_task(view: str, env: str | None, shard: dict[str, int]) -> dict[str, Any]:
    """One shard of the view's materialization (a mapped task instance per shard, labelled "shard i/N" in the UI so
    an operator clears or retries the right one)."""
    get_current_context()["featurekit_shard"] = shard_label(shard)  # type: ignore[typeddict-unknown-key]
    return run_step("materialize", view, current_interval(), env, shard)


def shard_label(shard: dict[str, int]) -> str:
    """The mapped task instance's label: 1-based, so the last of four is "shard 4/4"."""
    return f"shard {shard['index'] + 1}/{shard['count']}"


@task
def record_task(view: str, env: str | None, shards: Any) -> dict[str, Any]:
    """Reduce step: every shard succeeded (else this task is upstream_failed), record the interval."""
    return run_step("record_shards", view, current_interval(), env, list(shards))


@task
def freshness_task(view: str, env: str | None, materialized: Any) -> dict[str, Any]:
    return run_step("freshness", view, current_interval(), env)


@task
def consistency_task(view: str, env: str | None, freshness: Any) -> dict[str, Any]:
    return run_step("consistency", view, current_interval(), env)
