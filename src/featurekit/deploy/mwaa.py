"""Deploy to MWAA: the DAG bundle into ``dags/``, ``plugins.zip`` (the wheel and the task environment's pinned
requirements, which MWAA's startup script installs into the kit's own environment), ``requirements.txt`` (what
parsing the DAGs needs beyond MWAA's Airflow), then point the environment at the new object versions.

MWAA picks up ``dags/`` by itself (it syncs the prefix continuously); a new ``plugins.zip`` or ``requirements.txt``
only takes effect through ``UpdateEnvironment`` with their S3 object versions, which restarts the workers. So the
environment is updated only when one of those two objects changed, and stale files of the bundle (a deleted view's
SQL, a removed DAG file) are deleted from ``dags/``.
"""

from __future__ import annotations

from pathlib import Path

from featurekit.deploy.artifacts import dag_bundle, mwaa_requirements, plugins_zip, task_env_requirements
from featurekit.deploy.context import DeployContext

PLUGINS_KEY = "plugins.zip"
REQUIREMENTS_KEY = "requirements.txt"
_MANAGED = ("dags/config/", "dags/feature_repo/")


def deploy_mwaa(ctx: DeployContext, wheel: Path, pins: dict[str, str]) -> None:
    bucket, name = ctx.deploy.mwaa_bucket, ctx.deploy.mwaa_environment
    bundle = dag_bundle(ctx.root)
    for key, data in sorted(bundle.items()):
        ctx.put_if_changed("mwaa", bucket, key, data)
    _delete_stale(ctx, bucket, set(bundle))

    plugins = ctx.put_if_changed("mwaa", bucket, PLUGINS_KEY, plugins_zip(wheel, task_env_requirements(ctx.root)))
    requirements = ctx.put_if_changed("mwaa", bucket, REQUIREMENTS_KEY, mwaa_requirements(ctx.root, pins).encode())

    environment = ctx.aws("mwaa").get_environment(Name=name)["Environment"]
    desired = {
        "PluginsS3Path": PLUGINS_KEY,
        "PluginsS3ObjectVersion": plugins,
        "RequirementsS3Path": REQUIREMENTS_KEY,
        "RequirementsS3ObjectVersion": requirements,
    }
    stale = sorted(k for k, v in desired.items() if environment.get(k) != v)
    if not stale:
        ctx.record("mwaa", "unchanged", f"environment {name}")
        return
    ctx.record("mwaa", "update-environment", f"environment {name}", ", ".join(stale))
    if not ctx.dry_run:
        ctx.aws("mwaa").update_environment(Name=name, **desired)


def _delete_stale(ctx: DeployContext, bucket: str, keep: set[str]) -> None:
    """Delete objects under ``dags/`` that this commit's bundle no longer has (top-level DAG files and the managed
    ``config/`` and ``feature_repo/`` folders; anything else in the bucket is left alone)."""
    s3 = ctx.aws("s3")
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="dags/"):
        for item in page.get("Contents", []):
            key = item["Key"]
            top_level_dag = key.count("/") == 1 and key.endswith(".py")
            if key in keep or not (top_level_dag or key.startswith(_MANAGED)):
                continue
            ctx.record("mwaa", "delete", f"s3://{bucket}/{key}", "not in this commit's bundle")
            if not ctx.dry_run:
                s3.delete_object(Bucket=bucket, Key=key)
