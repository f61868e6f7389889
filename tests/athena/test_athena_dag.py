"""The real hourly DAG on the AWS path: Athena extract, quality gate and records on S3, Glue partition, Redis."""

from __future__ import annotations

from featurekit.offline.glue import ensure_table
from featurekit.offline.layout import partition_value
from featurekit.offline.schema import offline_schema
from featurekit.offline.storage import offline_location
from featurekit.pipelines.records import latest_record
from featurekit.repo.apply import apply_repo, checked_repo
from featurekit.repo.feast_config import feature_store
from support.batch_project import HOUR


def test_hourly_dag_runs_on_athena(paths, airflow_home, monkeypatch) -> None:
    from featurekit.orchestration.factory import build_dags
    from featurekit.orchestration.runner import test_interval

    monkeypatch.setenv("FEATUREKIT_ENV", "emulated")
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(paths.athena.data_dir))
    repo = checked_repo(paths.athena)
    for view in [*repo.batch_views, *repo.stream_views]:
        ensure_table(paths.athena.offline_store, view.name, offline_schema(view))
    apply_repo(paths.athena, repo)

    run = test_interval(build_dags()["featurekit_hourly"], HOUR)

    assert run.state == "success", run.tasks
    partition = partition_value(HOUR.start, "hourly")
    rows = offline_location(paths.athena.offline_store).read_partition("user_txn_24h", partition)
    assert rows is not None and rows.num_rows > 0
    glue = paths.emulator.client("glue")
    glue.get_partition(
        DatabaseName=paths.athena.offline_store.database, TableName="user_txn_24h", PartitionValues=[partition]
    )
    record = latest_record(paths.athena, "user_txn_24h")
    assert record is not None and record.interval_end == HOUR.end and record.rows == rows.num_rows
    users = rows.column("user_id").to_pylist()[:10]
    online = (
        feature_store(paths.athena)
        .get_online_features(features=["user_txn_24h:spend_24h"], entity_rows=[{"user_id": u} for u in users])
        .to_dict()
    )
    by_user = {r["user_id"]: r["spend_24h"] for r in rows.to_pylist()}
    assert online["spend_24h"] == [by_user[u] for u in users]
