"""The runtimes deployed on AWS against the ones the tests run, read from the Terraform code, ``uv.lock`` and the
MWAA-version Airflow requirements (``infra/mwaa/requirements.txt``).

Spark: the streaming jobs' Python code runs on EMR's own pyspark (the packed environment leaves pyspark out), so the
locked pyspark must be exactly the Spark of the EMR release label the tests run against.

Airflow: on MWAA, Airflow only parses and schedules the DAGs; every task body runs in the kit's locked environment
(``FEATUREKIT_TASK_PYTHON``, built by MWAA's startup script from the wheel and ``uv.lock``). So two versions matter:
the locked one, under which the task bodies run (every DAG test), and MWAA's, which must equal the Airflow that
``tests/orchestration/test_mwaa_airflow.py`` installs to parse the DAG files and run a DAG whose tasks execute in the
locked environment.

Python: the same two sides. The task bodies run the startup script's ``task_python_version``, which must be the
locked Python (``requires-python``); MWAA's Airflow parses the DAG files on MWAA's own Python, which must be the one
the MWAA-version Airflow is installed with here. Gaps between deployed and tested are declared in
``KNOWN_DIVERGENCES`` with their reason; the test fails on an undeclared divergence and on a declared one that no
longer exists.
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
MWAA_AIRFLOW_ENV_SCRIPT = REPO_ROOT / "scripts" / "mwaa_airflow_env.sh"
# MWAA Airflow version -> the Python of MWAA's image (Amazon MWAA User Guide, "Apache Airflow versions": the
# constraints file and Python version per release). Add a version here when adopting it.
MWAA_PYTHON = {"3.0.6": "3.12"}

# (component, deployed, tested): why the deployed runtime is not the tested one.
KNOWN_DIVERGENCES: dict[tuple[str, str, str], str] = {
    ("python_scheduling", "3.12", "3.11"): (
        "MWAA's Airflow parses the DAG files on its image's Python 3.12; the test machines have no 3.12 (Debian 12's "
        "only Python is 3.11, and no reachable registry ships a 3.12 interpreter), so the MWAA-version Airflow "
        "(3.0.6, which supports 3.12) parses them on 3.11. What parsing imports of the kit is checked to use no "
        "module Python 3.12 removed (tests/orchestration/test_mwaa_airflow.py). The task bodies are unaffected: "
        "they run the locked Python (python_tasks)."
    ),
}


def _locked(name: str) -> str:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == name]
    return version


def _mwaa_test_airflow() -> str:
    """The Airflow version the MWAA-version DAG test installs (scripts/mwaa_airflow_env.sh)."""
    (version,) = re.findall(r"^apache-airflow==(\S+)$", MWAA_AIRFLOW_REQUIREMENTS.read_text(), re.M)
    return version


def _locked_python() -> str:
    """The one Python minor version ``requires-python`` admits (``>=3.X,<3.X+1``): the version every test runs."""
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    bounds = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec.replace(" ", ""))
    assert bounds, f"requires-python {spec!r}: expected '>=3.X,<3.Y'"
    low, high = bounds.groups()
    assert int(high) == int(low) + 1, f"requires-python {spec!r} admits more than one Python: pin one minor"
    return f"3.{low}"


def _mwaa_test_python() -> str:
    """The Python the MWAA-version Airflow is installed with (scripts/mwaa_airflow_env.sh)."""
    (version,) = re.findall(r"venv .*--python (3\.\d+)", MWAA_AIRFLOW_ENV_SCRIPT.read_text())
    return version


def _mwaa_versions() -> set[str]:
    """The Airflow versions MWAA accepts, from botocore's service model (AirflowVersion documentation)."""
    model = botocore.session.get_session().get_service_model("mwaa")
    doc = model.operation_model("CreateEnvironment").input_shape.members["AirflowVersion"].documentation
    listed = re.sub(r"<[^>]+>", "", doc).split("Valid values:")[1]
    return set(re.findall(r"\d+\.\d+\.\d+", listed))


def deployed_runtimes(tf: TerraformCode) -> dict[str, str]:
    streaming, orchestration = tf.modules["streaming"], tf.modules["orchestration"]
    label = attr(streaming.variables["emr_release_label"], "default")
    assert label in EMR_SPARK, f"emr_release_label {label}: add its Spark version to EMR_SPARK"
    airflow = attr(orchestration.variables["airflow_version"], "default")
    assert airflow in MWAA_PYTHON, f"airflow_version {airflow}: add MWAA's Python for it to MWAA_PYTHON"
    return {
        "spark": EMR_SPARK[label],
        "airflow": airflow,
        "python_scheduling": MWAA_PYTHON[airflow],
        "python_tasks": attr(orchestration.variables["task_python_version"], "default"),
    }


def runtimes_under_test() -> dict[str, str]:
    return {
        "spark": _locked("pyspark"),
        "airflow": _mwaa_test_airflow(),
        "python_scheduling": _mwaa_test_python(),
        "python_tasks": _locked_python(),
    }


def test_deployed_runtimes_are_the_tested_ones_or_the_gap_is_declared(tf: TerraformCode) -> None:
    versions, tests = deployed_runtimes(tf), runtimes_under_test()
    found = {(name, versions[name], tests[name]) for name in versions if versions[name] != tests[name]}
    undeclared = found - set(KNOWN_DIVERGENCES)
    stale = set(KNOWN_DIVERGENCES) - found
    assert not undeclared, f"deployed runtime differs from the tested one: {sorted(undeclared)}"
    assert not stale, f"declared divergences that no longer exist (remove them): {sorted(stale)}"


def test_task_bodies_run_the_locked_airflow_major(tf: TerraformCode) -> None:
    """The tasks run under the locked Airflow (3.3), scheduled by MWAA's (3.0): never across a major version,
    whose task SDK and DAG API differ."""
    assert deployed_runtimes(tf)["airflow"].split(".")[0] == _locked("apache-airflow").split(".")[0]


def test_versions_are_ones_aws_offers_and_the_connector_matches_spark(tf: TerraformCode) -> None:
    versions = deployed_runtimes(tf)
    assert versions["airflow"] in _mwaa_versions()
    (connector,) = attr(tf.modules["streaming"].variables["kafka_connector_packages"], "default")
    scala = SCALA_OF_SPARK_MAJOR[versions["spark"].split(".")[0]]
    assert connector == f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{versions['spark']}"
