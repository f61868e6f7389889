"""``featurekit deploy`` end to end against moto's server (S3, EMR Serverless, ECS) and botocore's Stubber for MWAA
(moto has no MWAA; the Stubber checks every call against the real service model): the first deploy ships
everything, a second deploy of the same commit changes nothing, a feature repo change restarts the streaming jobs
(old run cancelled before the new one starts) and rolls the feature server, and ``--dry-run`` changes nothing."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from featurekit.config import load_settings
from featurekit.config.loader import project_root
from featurekit.deploy.artifacts import DeployError, build_streaming_env, build_wheel, uv_executable
from featurekit.deploy.run import deploy
from support.moto_s3 import moto_s3

REGION = "us-east-1"
MWAA_BUCKET = "featurekit-dev-airflow"
ARTIFACTS = "featurekit-dev-checkpoints"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/featurekit-feature-server"
ENV_NAME = "featurekit-dev-airflow"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def streaming_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real relocatable uv venv with the featurekit wheel (no dependencies: keeps the test fast)."""
    uv_executable()  # fails naming uv when neither `uv run`'s UV nor PATH has it
    base = tmp_path_factory.mktemp("venv")
    wheel = build_wheel(project_root(), base / "dist")
    return build_streaming_env(base / "venv", wheel, [])


class Aws:
    """moto clients for S3/EMR Serverless/ECS and a stubbed MWAA client, handed to the deploy as its factory."""

    def __init__(self, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
        import moto.emrserverless.models as emr_models

        # Streaming job runs run until cancelled; moto marks new runs SUCCESS at once unless told otherwise.
        monkeypatch.setattr(emr_models, "JOB_STATUS", "RUNNING")
        self.endpoint = endpoint
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
        self.s3 = boto3.client("s3", endpoint_url=endpoint, **creds)
        self.emr = boto3.client("emr-serverless", endpoint_url=endpoint, **creds)
        self.ecs = boto3.client("ecs", endpoint_url=endpoint, **creds)
        self.mwaa = boto3.client("mwaa", **creds)
        self.stub = Stubber(self.mwaa)
        self.updates: list[dict[str, Any]] = []
        self.mwaa.meta.events.register(
            "provide-client-params.mwaa.UpdateEnvironment", lambda params, **_: self.updates.append(dict(params))
        )
        for bucket in (MWAA_BUCKET, ARTIFACTS):
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.app_id = self.emr.create_application(
            name="featurekit-dev-streaming",
            releaseLabel="emr-7.5.0",
            type="SPARK",  # moto 5.2.5 lacks emr-spark-8.x
        )["applicationId"]
        # Another team's job on the same application: the deploy must leave it alone.
        self.other_run = self.emr.start_job_run(
            applicationId=self.app_id,
            executionRoleArn="arn:aws:iam::123456789012:role/reporting",
            name="nightly-report",
            jobDriver={"sparkSubmit": {"entryPoint": "s3://reports/report.py"}},
        )["jobRunId"]
        self.ecs.create_cluster(clusterName="featurekit-dev")
        first = self.ecs.register_task_definition(
            family="featurekit-dev-feature-server",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            containerDefinitions=[
                {"name": "feature-server", "image": f"{IMAGE}:bootstrap", "essential": True, "memory": 1024}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster="featurekit-dev", serviceName="featurekit-dev-feature-server", taskDefinition=first, desiredCount=2
        )
        self.environment = {"PluginsS3ObjectVersion": None, "RequirementsS3ObjectVersion": None}

    def client(self, service: str) -> Any:
        return {"s3": self.s3, "emr-serverless": self.emr, "ecs": self.ecs, "mwaa": self.mwaa}[service]

    def expect_get_environment(self) -> None:
        env = {"Name": ENV_NAME, "Status": "AVAILABLE", "RequirementsS3Path": "requirements.txt"}
        env.update({k: v for k, v in self.environment.items() if v is not None})
        if self.environment["PluginsS3ObjectVersion"]:
            env["PluginsS3Path"] = "plugins.zip"
        self.stub.add_response("get_environment", {"Environment": env}, {"Name": ENV_NAME})

    def expect_update_environment(self) -> None:
        expected = {
            "Name": ENV_NAME,
            "PluginsS3Path": "plugins.zip",
            "PluginsS3ObjectVersion": ANY,
            "RequirementsS3Path": "requirements.txt",
            "RequirementsS3ObjectVersion": ANY,
        }
        self.stub.add_response(
            "update_environment", {"Arn": f"arn:aws:airflow:{REGION}:123456789012:environment/x"}, expected
        )

    def object(self, bucket: str, key: str) -> dict[str, Any]:
        return self.s3.get_object(Bucket=bucket, Key=key)

    def runs(self, states: list[str]) -> list[dict[str, Any]]:
        """The featurekit job runs in ``states`` (the other team's run left out)."""
        runs = self.emr.list_job_runs(applicationId=self.app_id, states=states)["jobRuns"]
        return [r for r in runs if r["id"] != self.other_run]

    def image(self) -> str:
        service = self.ecs.describe_services(cluster="featurekit-dev", services=["featurekit-dev-feature-server"])
        arn = service["services"][0]["taskDefinition"]
        return self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0][
            "image"
        ]


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    aws = Aws(moto_endpoint, monkeypatch)
    with aws.stub:
        yield aws
    aws.stub.assert_no_pending_responses()


def dev_settings(aws: Aws, root: Path):
    overrides = {"deploy": {"emr_application_id": aws.app_id}}
    return load_settings("dev", root=root, environ={"FEATUREKIT_REDIS_PASSWORD": ""}, overrides=overrides)


def checkout(tmp_path: Path) -> Path:
    """A copy of the project (what CI checks out), so a test can change the feature repo."""
    root = tmp_path / "checkout"
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "results")
    shutil.copytree(project_root(), root, ignore=ignore)
    return root


def test_deploy_ships_everything_then_is_idempotent_and_restarts_jobs_on_change(
    aws: Aws, streaming_venv: Path, tmp_path: Path
) -> None:
    root = checkout(tmp_path)
    settings = dev_settings(aws, root)
    retired = root / "feature_repo" / "feature_views" / "retired_view.sql"
    retired.write_text("select 1\n")

    # 1. First deploy of commit c1: everything is uploaded, the environment updated, jobs started, server rolled.
    aws.expect_get_environment()
    aws.expect_update_environment()
    actions = deploy(settings, root, commit="c1", streaming_venv=streaming_venv, client=aws.client)
    verbs = [a.verb for a in actions]
    assert verbs.count("update-environment") == 1 and verbs.count("start") == 2 and "cancel" not in verbs
    (update,) = aws.updates
    for key, version in (
        ("plugins.zip", "PluginsS3ObjectVersion"),
        ("requirements.txt", "RequirementsS3ObjectVersion"),
    ):
        assert update[version] == aws.object(MWAA_BUCKET, key)["VersionId"]
        aws.environment[version] = update[version]
    plugins = zipfile.ZipFile(io.BytesIO(aws.object(MWAA_BUCKET, "plugins.zip")["Body"].read()))
    assert plugins.namelist() == ["featurekit-0.1.0-py3-none-any.whl", "featurekit-requirements.txt"]
    # the task environment (startup script): the locked runtime, markers kept, Spark left out
    task_env = plugins.read("featurekit-requirements.txt").decode().splitlines()
    assert "feast==0.67.0" in task_env and "apache-airflow==3.3.2" in task_env
    assert "pywin32==312 ; sys_platform == 'win32'" in task_env
    assert not any(line.startswith("pyspark==") for line in task_env)
    # MWAA's own Airflow gets nothing of the kit's dependencies (they cannot share its constrained environment)
    requirements = aws.object(MWAA_BUCKET, "requirements.txt")["Body"].read().decode()
    assert [line for line in requirements.splitlines() if not line.startswith("#")] == []
    for key, source in (
        ("dags/featurekit_dags.py", "dags/featurekit_dags.py"),
        ("dags/featurekit_maintenance.py", "dags/featurekit_maintenance.py"),
        ("dags/config/dev.yaml", "config/dev.yaml"),
    ):
        assert aws.object(MWAA_BUCKET, key)["Body"].read() == (root / source).read_bytes()
    assert aws.object(MWAA_BUCKET, "dags/feature_repo/feature_services.py")

    running = aws.runs(["RUNNING"])
    assert sorted(r["name"].rsplit("-", 1)[0] for r in running) == [
        "featurekit-user_balance_live",
        "featurekit-user_txn_1h",
    ]
    run = aws.emr.get_job_run(applicationId=aws.app_id, jobRunId=running[0]["id"])["jobRun"]
    assert run["executionRole"] == settings.deploy.emr_job_role_arn
    submit = run["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"].endswith("/stream_job.py") and submit["entryPointArguments"][1:] == ["--env", "dev"]
    archive_uri = submit["sparkSubmitParameters"].split("spark.archives=")[1].split("#")[0]
    assert (
        "spark.sql.streaming.checkpointLocation=s3://featurekit-dev-checkpoints/checkpoints"
        in submit["sparkSubmitParameters"]
    )
    bucket, key = archive_uri.removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(aws.object(bucket, key)["Body"].read()), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert {"bin/python", "featurekit-project/config/dev.yaml", "pyvenv.cfg"} <= names
    assert any(n.endswith("site-packages/featurekit/deploy/run.py") for n in names)
    assert aws.image() == f"{IMAGE}:c1"

    # 2. The same commit again: nothing changes (no UpdateEnvironment call, same job runs, same task definition).
    aws.expect_get_environment()
    again = deploy(settings, root, commit="c1", streaming_venv=streaming_venv, client=aws.client)
    assert [a for a in again if a.changes] == []
    assert sorted(r["id"] for r in aws.runs(["RUNNING"])) == sorted(r["id"] for r in running)
    assert len(aws.updates) == 1 and aws.image() == f"{IMAGE}:c1"

    # 3. Dry run of a changed commit: every action listed, nothing done.
    edit = root / "feature_repo" / "feature_views" / "user_txn_30d.sql"
    edit.write_text(edit.read_text() + "\n-- reviewed change\n")
    aws.expect_get_environment()
    planned = deploy(settings, root, commit="c2", dry_run=True, streaming_venv=streaming_venv, client=aws.client)
    assert {a.verb for a in planned if a.changes} == {"upload", "cancel", "start", "register", "update-service"}
    assert sorted(r["id"] for r in aws.runs(["RUNNING"])) == sorted(r["id"] for r in running)
    assert aws.image() == f"{IMAGE}:c1"
    assert (
        b"reviewed change"
        not in aws.object(MWAA_BUCKET, "dags/feature_repo/feature_views/user_txn_30d.sql")["Body"].read()
    )

    # 4. Deploy the change: the SQL lands in dags/, plugins and requirements are unchanged (no environment update),
    # each job's old run is cancelled before its new run starts, the feature server rolls to c2.
    retired.unlink()
    aws.expect_get_environment()
    changed = deploy(settings, root, commit="c2", streaming_venv=streaming_venv, client=aws.client)
    retired_key = "dags/feature_repo/feature_views/retired_view.sql"
    assert [a.resource for a in changed if a.verb == "delete"] == [f"s3://{MWAA_BUCKET}/{retired_key}"]
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=MWAA_BUCKET, Prefix=retired_key)
    order = [(a.verb, a.resource.rsplit("-", 1)[0]) for a in changed if a.target == "emr" and a.verb != "upload"]
    assert order == [
        ("cancel", "job run featurekit-user_balance_live"),
        ("start", "job run featurekit-user_balance_live"),
        ("cancel", "job run featurekit-user_txn_1h"),
        ("start", "job run featurekit-user_txn_1h"),
    ]
    assert len(aws.updates) == 1
    now_running = aws.runs(["RUNNING"])
    assert len(now_running) == 2 and not {r["id"] for r in now_running} & {r["id"] for r in running}
    assert {r["id"] for r in aws.runs(["CANCELLED"])} == {r["id"] for r in running}
    assert aws.image() == f"{IMAGE}:c2"
    assert aws.emr.get_job_run(applicationId=aws.app_id, jobRunId=aws.other_run)["jobRun"]["state"] == "RUNNING"


def test_a_job_run_that_does_not_stop_blocks_its_replacement(
    aws: Aws, streaming_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.emrserverless.models as emr_models

    root = checkout(tmp_path)
    settings = dev_settings(aws, root)
    deploy(settings, root, commit="c1", targets=("emr",), streaming_venv=streaming_venv, client=aws.client)
    first = {r["id"] for r in aws.runs(["RUNNING"])}

    def stuck(self, application_id: str, job_run_id: str):  # the run ignores the cancel (stays CANCELLING)
        for run in self.job_runs[application_id]:
            if run.id == job_run_id:
                run.state = "CANCELLING"
        return application_id, job_run_id

    monkeypatch.setattr(emr_models.EMRServerlessBackend, "cancel_job_run", stuck)
    (root / "streaming" / "stream_job.py").write_text((root / "streaming" / "stream_job.py").read_text() + "\n")
    with pytest.raises(DeployError, match=r"still CANCELLING .* not starting its replacement"):
        deploy(
            settings,
            root,
            commit="c2",
            targets=("emr",),
            streaming_venv=streaming_venv,
            client=aws.client,
            emr_timeout_s=0.5,
        )
    # Nothing was started next to the run that is still writing.
    assert {r["id"] for r in aws.runs(["RUNNING", "CANCELLING"])} == first


def test_deploy_settings_have_the_same_keys_in_every_aws_environment() -> None:
    import yaml

    keys = {
        env: sorted(yaml.safe_load((project_root() / "config" / f"{env}.yaml").read_text())["deploy"])
        for env in ("local", "dev", "prod")
    }
    assert keys["local"] == keys["dev"] == keys["prod"]
    for env in ("dev", "prod"):
        deploy_settings = load_settings(env, environ={"FEATUREKIT_REDIS_PASSWORD": ""}).deploy
        assert deploy_settings.mwaa_bucket == f"featurekit-{env}-airflow"  # modules/orchestration's bucket
        assert deploy_settings.artifacts_location.startswith(f"s3://featurekit-{env}-checkpoints/")


def test_cli_dry_run_lists_the_actions_and_changes_nothing(
    aws: Aws, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from featurekit.cli.main import app

    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "FEATUREKIT_REDIS_PASSWORD": "",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--dry-run", "--target", "ecs", "--commit", "c9"])
    assert result.exit_code == 0, result.output
    assert "[ecs] register task definition featurekit-dev-feature-server" in result.output
    assert "2 action(s) would change" in result.output
    assert aws.image() == f"{IMAGE}:bootstrap"
    refused = CliRunner().invoke(app, ["deploy", "--env", "dev", "--dry-run", "--target", "lambda"])
    assert refused.exit_code == 1 and "unknown deploy target(s) ['lambda']" in refused.output


def test_locked_requirements_are_exact_pins_and_leave_spark_to_emr(tmp_path: Path) -> None:
    from featurekit.deploy.artifacts import locked_pins, mwaa_requirements, streaming_requirements

    pins = locked_pins(project_root())
    lock = project_root().joinpath("uv.lock").read_text()
    assert f'name = "duckdb"\nversion = "{pins["duckdb"]}"' in lock
    streaming = streaming_requirements(pins)
    assert all(re.fullmatch(r"[a-z0-9-]+==[^=\s]+", line) for line in streaming)
    assert not any(line.startswith("pyspark==") for line in streaming) and "pyspark" in pins
    assert f"duckdb=={pins['duckdb']}" in streaming
    # A package the DAGs need that uv.lock does not have is an error naming it, not a silent unpinned line.
    root = tmp_path / "root"
    (root / "infra" / "terraform" / "shared").mkdir(parents=True)
    (root / "infra" / "terraform" / "shared" / "mwaa-requirements.txt").write_text("not-in-the-lock==1.0\n")
    with pytest.raises(DeployError, match=r"not-in-the-lock is not in uv\.lock"):
        mwaa_requirements(root, pins)
