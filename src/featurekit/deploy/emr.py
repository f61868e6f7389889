"""Deploy the streaming jobs to EMR Serverless: upload the packed environment and the entry point, then restart each
job's run from its checkpoints, never letting two runs write at once.

There is one job per stream view of the feature repo (``featurekit.streaming.jobs.stream_jobs``), each run as
``streaming/stream_job.py <view> --env <env>``. A job run is named ``featurekit-<view>-<artifact hash>``; the hash
covers the packed environment (the wheel, its locked dependencies, config and feature repo) and the entry point.
If the one active run of a job already has this commit's hash, nothing happens. Otherwise every active run of the
job is cancelled and waited for until it is no longer active, and only then is the new run started
(``mode=STREAMING``), with the same checkpoint location (``streaming.checkpoint_location``), so it resumes where the
old run stopped. A run that does not stop in time aborts the deploy before anything is started.
"""

from __future__ import annotations

import time

from featurekit.config.settings import Settings
from featurekit.deploy.artifacts import DeployError, sha256
from featurekit.deploy.context import DeployContext, split_s3

ACTIVE_STATES = ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "CANCELLING", "QUEUED"]
ENV_ALIAS = "environment"
PYTHON = f"./{ENV_ALIAS}/bin/python"
ENTRY_POINT = "stream_job.py"  # streaming/stream_job.py <view>: one generated stream job


def spark_submit_parameters(ctx: DeployContext, archive_uri: str) -> str:
    """Submit parameters: the packed environment as the Python of driver and executors, the kit's environment."""
    env = ctx.settings.env
    root = f"./{ENV_ALIAS}/featurekit-project"
    confs = [
        f"spark.archives={archive_uri}#{ENV_ALIAS}",
        f"spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={PYTHON}",
        f"spark.emr-serverless.driverEnv.PYSPARK_PYTHON={PYTHON}",
        f"spark.executorEnv.PYSPARK_PYTHON={PYTHON}",
        f"spark.emr-serverless.driverEnv.FEATUREKIT_ENV={env}",
        f"spark.emr-serverless.driverEnv.FEATUREKIT_ROOT={root}",
        f"spark.executorEnv.FEATUREKIT_ENV={env}",
        f"spark.executorEnv.FEATUREKIT_ROOT={root}",
        f"spark.sql.streaming.checkpointLocation={ctx.settings.streaming.checkpoint_location}",
    ]
    return " ".join(f"--conf {c}" for c in confs)


def deploy_emr(
    ctx: DeployContext, archive: bytes, applications: list[str], *, timeout_s: float = 900, poll_s: float = 5
) -> None:
    bucket, prefix = split_s3(ctx.deploy.artifacts_location)
    app_id = ctx.deploy.emr_application_id
    archive_hash = sha256(archive)
    archive_key = f"{prefix}/streaming/{archive_hash[:16]}/environment.tar.gz"
    ctx.put_if_changed("emr", bucket, archive_key, archive)
    emr = ctx.aws("emr-serverless")
    entry = (ctx.root / "streaming" / ENTRY_POINT).read_bytes()
    entry_key = f"{prefix}/streaming/{archive_hash[:16]}/{ENTRY_POINT}"
    ctx.put_if_changed("emr", bucket, entry_key, entry)
    for name in applications:
        digest = sha256(archive_hash.encode() + entry)[:16]
        run_name = f"featurekit-{name}-{digest}"
        active = [r for r in _active_runs(emr, app_id) if r["name"].startswith(f"featurekit-{name}-")]
        if [r["name"] for r in active] == [run_name]:
            ctx.record("emr", "unchanged", f"job run {run_name}", f"{active[0]['id']} {active[0]['state']}")
            continue
        for run in active:
            ctx.record("emr", "cancel", f"job run {run['name']}", f"{run['id']} {run['state']}")
            if not ctx.dry_run:
                emr.cancel_job_run(applicationId=app_id, jobRunId=run["id"])
                _wait_stopped(emr, app_id, run, timeout_s, poll_s)
        ctx.record("emr", "start", f"job run {run_name}", f"application {app_id}, resumes from checkpoints")
        if ctx.dry_run:
            continue
        emr.start_job_run(
            applicationId=app_id,
            executionRoleArn=ctx.deploy.emr_job_role_arn,
            name=run_name,
            mode="STREAMING",
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": f"s3://{bucket}/{entry_key}",
                    "entryPointArguments": [name, "--env", ctx.settings.env],
                    "sparkSubmitParameters": spark_submit_parameters(ctx, f"s3://{bucket}/{archive_key}"),
                }
            },
            tags={"featurekit-application": name, "featurekit-commit": ctx.commit},
        )


def _active_runs(emr, app_id: str) -> list[dict]:
    runs: list[dict] = []
    for page in emr.get_paginator("list_job_runs").paginate(applicationId=app_id, states=ACTIVE_STATES):
        runs.extend(page["jobRuns"])
    return runs


def _wait_stopped(emr, app_id: str, run: dict, timeout_s: float, poll_s: float) -> None:
    """Block until the cancelled run is no longer active: the next run must not write next to it."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = emr.get_job_run(applicationId=app_id, jobRunId=run["id"])["jobRun"]["state"]
        if state not in ACTIVE_STATES:
            return
        if time.monotonic() > deadline:
            raise DeployError(
                f"EMR Serverless job run {run['name']} ({run['id']}) is still {state} {timeout_s:.0f}s after "
                "cancelling it; not starting its replacement (two writers). Check the run, then deploy again"
            )
        time.sleep(max(0.05, min(poll_s, deadline - time.monotonic())))


def streaming_applications(settings: Settings) -> list[str]:
    """The stream jobs generated from the feature repo's stream views (one Spark application each)."""
    from featurekit.streaming.jobs import stream_jobs

    return sorted(stream_jobs(settings))
