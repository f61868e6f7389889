"""The DAG folder imports cleanly, the generated DAGs follow the platform's policy, and parsing stays cheap."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from featurekit.orchestration.manifest import derive_manifest
from support.batch_project import REPO_ROOT, BatchProject

HEAVY = ("feast", "pandas", "pyspark", "great_expectations", "duckdb")

STEPS = ("extract", "monitor", "validate", "plan_shards", "materialize", "record", "freshness", "consistency")


def test_dag_folder_imports_without_errors_and_follows_policy(project: BatchProject) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["featurekit_daily", "featurekit_hourly", "featurekit_maintenance"]
    maintenance = bag.get_dag("featurekit_maintenance")
    assert maintenance.max_active_runs == 1 and maintenance.catchup is False
    assert [t.task_id for t in maintenance.tasks] == ["reconcile"]
    assert all(t.owner != "airflow" and t.retries >= 1 for t in maintenance.tasks)
    manifest = derive_manifest()
    for schedule in ("hourly", "daily"):
        dag = bag.get_dag(f"featurekit_{schedule}")
        assert {"featurekit", "batch", schedule} <= set(dag.tags)
        assert dag.catchup is True and dag.max_active_runs == 1
        groups = {t.task_id.split(".")[0] for t in dag.tasks}
        assert groups == {v.name for v in manifest.views if v.grain == schedule}
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", t.task_id
            assert t.retries >= 1 and t.retry_exponential_backoff, t.task_id
            assert t.execution_timeout is not None, t.task_id
        for group in groups:
            chain = [dag.get_task(f"{group}.{s}") for s in STEPS]
            for upstream, downstream in itertools.pairwise(chain):
                assert downstream.task_id in upstream.downstream_task_ids


def test_every_dag_view_has_a_suite_covering_its_columns(project: BatchProject) -> None:
    from featurekit.offline.schema import offline_schema
    from featurekit.quality.suites import load_suite

    for entry in derive_manifest().views:
        suite = load_suite(project.settings.feature_repo, entry.name)
        schema = offline_schema(project.view(entry.name))
        assert suite.columns() <= set(schema.names), entry.name
        typed = {kw["column"] for name, kw in suite.expectations if name == "expect_column_values_to_be_of_type"}
        keys = [c.name for c in project.view(entry.name).entity_columns]
        assert typed == set(schema.names) - {"event_timestamp", "created"}, entry.name
        unique = [kw["column_list"] for n, kw in suite.expectations if n == "expect_compound_columns_to_be_unique"]
        assert [*keys, "event_timestamp"] in unique, entry.name


def test_a_new_daily_view_appears_without_a_dag_edit(project: BatchProject) -> None:
    views = project.root / "feature_repo" / "feature_views"
    source = (views / "profile.py").read_text()
    (views / "profile_copy.py").write_text(
        source.replace('name="user_profile"', 'name="user_profile_v2"').replace("user_profile =", "user_profile_v2 =")
    )
    from featurekit.orchestration.factory import build_dags

    daily = build_dags()["featurekit_daily"]
    assert "user_profile_v2.materialize" in daily.task_ids


def test_parsing_the_dag_files_imports_no_heavy_library(project: BatchProject) -> None:
    code = f"import runpy, sys; runpy.run_path(sys.argv[1]); print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    files = sorted(Path(REPO_ROOT / "dags").glob("*.py"))
    assert [f.name for f in files] == ["featurekit_dags.py", "featurekit_maintenance.py"]
    for path in files:
        child = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120, check=True
        )
        assert child.stdout.strip() == "", path.name


def test_dag_policy_comes_from_the_environment_file(project: BatchProject) -> None:
    import yaml

    from featurekit.config.merge import deep_merge
    from featurekit.orchestration.factory import build_dags
    from featurekit.orchestration.maintenance import build_maintenance_dag

    path = project.root / "config" / "local.yaml"
    policy = {"orchestration": {"start_date": "2025-03-01", "catchup": False, "retries": 5, "retry_delay_seconds": 7}}
    path.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(path.read_text()), policy)))
    for dag in [*build_dags().values(), build_maintenance_dag()]:
        assert dag.start_date.isoformat() == "2025-03-01T00:00:00+00:00", dag.dag_id
        assert dag.default_args["retries"] == 5 and dag.default_args["retry_delay"].total_seconds() == 7, dag.dag_id
    assert build_dags()["featurekit_daily"].catchup is False
