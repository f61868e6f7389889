"""The runtimes deployed on AWS against the ones the tests run (uv.lock), read from the Terraform code.

Rule: Spark and Airflow must agree on **major.minor** between what Terraform deploys and what ``uv.lock`` pins.
Patch releases of both keep their APIs; a newer minor adds APIs (and Spark 4.x minors added Python data source and
streaming features the kit uses), so code tested on a newer minor can fail on an older one. Where AWS does not offer
the locked line yet, the gap is declared below with its reason, so it is visible and reviewed: the test fails on any
undeclared divergence, and on a declared one that no longer exists (then remove it).
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

# (component, deployed major.minor, locked major.minor): why the deployed runtime is not the tested one yet.
KNOWN_DIVERGENCES = {
    ("spark", "4.0", "4.3"): (
        "EMR Serverless offers Spark 4.0 at most (emr-spark-8.0.0 = 4.0.2). pyspark 4.0.2 locks, but the "
        "featurekit-kafka source the streaming tests use cannot load on it: 4.0 has no pyspark.sql.streaming."
        "datasource (ReadLimit/ReadMaxRows admission control, latestOffset(start, limit), SupportsTriggerAvailableNow) "
        "(docs/deploy.md, 'Runtimes')"
    ),
    ("airflow", "3.0", "3.3"): (
        "MWAA offers Airflow 3.0.6 as its newest 3.x. apache-airflow==3.0.6 locks with feast 0.67, but feast needs "
        "starlette>=1.0.1, hence fastapi>=0.132, whose strict Content-Type check rejects the task SDK's JSON bodies "
        "(sent without Content-Type): every task fails under dag.test() (docs/deploy.md, 'Runtimes')"
    ),
}


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _locked(name: str) -> str:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == name]
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


def test_deployed_runtimes_match_the_lock_or_the_gap_is_declared(tf: TerraformCode) -> None:
    versions = deployed(tf)
    locked = {"spark": _locked("pyspark"), "airflow": _locked("apache-airflow")}
    found = {
        (name, _major_minor(versions[name]), _major_minor(locked[name]))
        for name in versions
        if _major_minor(versions[name]) != _major_minor(locked[name])
    }
    undeclared = found - set(KNOWN_DIVERGENCES)
    stale = set(KNOWN_DIVERGENCES) - found
    assert not undeclared, f"deployed runtime differs from uv.lock: {sorted(undeclared)}"
    assert not stale, f"declared divergences that no longer exist (remove them): {sorted(stale)}"
    assert versions["spark"].split(".")[0] == locked["spark"].split(".")[0], "never across a Spark major version"
    assert versions["airflow"].split(".")[0] == locked["airflow"].split(".")[0], "never across an Airflow major"


def test_versions_are_ones_aws_offers_and_the_connector_matches_spark(tf: TerraformCode) -> None:
    versions = deployed(tf)
    assert versions["airflow"] in _mwaa_versions()
    (connector,) = attr(tf.modules["streaming"].variables["kafka_connector_packages"], "default")
    scala = SCALA_OF_SPARK_MAJOR[versions["spark"].split(".")[0]]
    assert connector == f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{versions['spark']}"
