"""The runtimes deployed on AWS against the ones the tests run, read from the Terraform code, ``uv.lock`` and the
MWAA-version Airflow requirements (``infra/mwaa/requirements.txt``).

Spark: the streaming jobs' Python code runs on EMR's own pyspark (the packed environment leaves pyspark out), so the
locked pyspark must be exactly the Spark of the EMR release label the tests run against.

Airflow: on MWAA, Airflow only parses and schedules the DAGs; every task body runs in the kit's locked environment
(``FEATUREKIT_TASK_PYTHON``, built by MWAA's startup script from the wheel and ``uv.lock``). So two versions matter:
the locked one, under which the task bodies run (every DAG test), and MWAA's, which must equal the Airflow that
``tests/orchestration/test_mwaa_airflow.py`` installs to parse the DAG files and run a DAG whose tasks execute in the
locked environment. Any remaining gap between deployed and tested would be declared in ``KNOWN_DIVERGENCES`` with its
reason; the test fails on an undeclared divergence and on a declared one that no longer exists.
"""

from __future__ import annotations

import re
import tomllib

import botocore.session

from support.hclnorm import attr
from support.tfcode import REPO_ROOT, TerraformCode

# EMR Serverless release label -> Spark version (AWS EMR release notes). Add a label here when adopting it.
EMR_SPARK = {"emr-spark-8.0.0": "4.0.2", "emr-7.5.0": "3.5.2"}
SCALA_OF_SPARK_MAJOR = {"4": "2.13", "3": "2.12"}
MWAA_AIRFLOW_REQUIREMENTS = REPO_ROOT / "infra" / "mwaa" / "requirements.txt"

# (component, deployed, tested): why the deployed runtime is not the tested one. Nothing remains.
KNOWN_DIVERGENCES: dict[tuple[str, str, str], str] = {}


def _locked(name: str) -> str:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == name]
    return version


def _mwaa_test_airflow() -> str:
    """The Airflow version the MWAA-version DAG test installs (scripts/mwaa_airflow_env.sh)."""
    (version,) = re.findall(r"^apache-airflow==(\S+)$", MWAA_AIRFLOW_REQUIREMENTS.read_text(), re.M)
    return version


def _mwaa_versions() -> set[str]:
    """The Airflow versions MWAA accepts, from botocore's service model (AirflowVersion documentation)."""
    model = botocore.session.get_session().get_service_model("mwaa")
    doc = model.operation_model("CreateEnvironment").input_shape.members["AirflowVersion"].documentation
    listed = re.sub(r"<[^>]+>", "", doc).split("Valid values:")[1]
    return set(re.findall(r"\d+\.\d+\.\d+", listed))


def deployed(tf: TerraformCode) -> dict[str, str]:
    streaming, orchestration = tf.modules["streaming"], tf.modules["orchestration"]
    label = attr(streaming.variables["emr_release_label"], "default")
    assert label in EMR_SPARK, f"emr_release_label {label}: add its Spark version to EMR_SPARK"
    return {"spark": EMR_SPARK[label], "airflow": attr(orchestration.variables["airflow_version"], "default")}


def tested() -> dict[str, str]:
    return {"spark": _locked("pyspark"), "airflow": _mwaa_test_airflow()}


def test_deployed_runtimes_are_the_tested_ones_or_the_gap_is_declared(tf: TerraformCode) -> None:
    versions, tests = deployed(tf), tested()
    found = {(name, versions[name], tests[name]) for name in versions if versions[name] != tests[name]}
    undeclared = found - set(KNOWN_DIVERGENCES)
    stale = set(KNOWN_DIVERGENCES) - found
    assert not undeclared, f"deployed runtime differs from the tested one: {sorted(undeclared)}"
    assert not stale, f"declared divergences that no longer exist (remove them): {sorted(stale)}"


def test_task_bodies_run_the_locked_airflow_major(tf: TerraformCode) -> None:
    """The tasks run under the locked Airflow (3.3), scheduled by MWAA's (3.0): never across a major version,
    whose task SDK and DAG API differ."""
    assert deployed(tf)["airflow"].split(".")[0] == _locked("apache-airflow").split(".")[0]


def test_versions_are_ones_aws_offers_and_the_connector_matches_spark(tf: TerraformCode) -> None:
    versions = deployed(tf)
    assert versions["airflow"] in _mwaa_versions()
    (connector,) = attr(tf.modules["streaming"].variables["kafka_connector_packages"], "default")
    scala = SCALA_OF_SPARK_MAJOR[versions["spark"].split(".")[0]]
    assert connector == f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{versions['spark']}"
