"""The ``featurekit_maintenance`` DAG: reconciles the online store with the registry, in the VPC.

CI writes registries only and cannot reach Redis; this DAG runs on the Airflow workers, which can. Each run deletes
the rows of feature views and projects (closed pull requests) that are no longer in the registry, at most
``orchestration.maintenance_max_keys`` keys per run, and vacuums expired rows of the registered views (see
:mod:`featurekit.pipelines.reconcile`). Runs never overlap and do not catch up: each run looks at the current state,
so a missed hour is simply covered by the next one.

Parse cost: like :mod:`featurekit.orchestration.factory`, this imports only ``airflow.sdk``; the task body imports
Feast and the store when it runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable  # airflow.sdk re-exports it only from 3.1 on

from featurekit.orchestration.factory import RETRY_BACKOFF
from featurekit.orchestration.task_process import run_step

DAG_ID = "featurekit_maintenance"
CRON = "30 * * * *"  # hourly, away from the top of the hour when the batch DAGs start
OWNER = "feature-platform"


def build_maintenance_dag(env: str | None = None) -> DAG:
    """The maintenance DAG for ``env`` (default: ``FEATUREKIT_ENV``); one task, ``reconcile``. Start date and retries
    come from the environment's ``orchestration`` settings, like the batch DAGs'."""
    from featurekit.config import load_settings

    policy = load_settings(env).orchestration
    dag = DAG(
        dag_id=DAG_ID,
        description="featurekit online store maintenance: delete rows of removed views and projects, vacuum ttl",
        schedule=CronTriggerTimetable(CRON, timezone="UTC"),
        start_date=policy.start_date,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=50),
        tags=["featurekit", "maintenance"],
        doc_md=__doc__,
        default_args={
            "owner": OWNER,
            "retries": policy.retries,
            "retry_delay": timedelta(seconds=policy.retry_delay_seconds),
            "retry_exponential_backoff": RETRY_BACKOFF,
            "max_retry_delay": timedelta(minutes=15),
            "execution_timeout": timedelta(minutes=45),
        },
    )
    with dag:
        reconcile_task.override(task_id="reconcile")(env)
    return dag


@task
def reconcile_task(env: str | None) -> dict[str, Any]:
    return run_step("reconcile", None, None, env)
