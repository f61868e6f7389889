"""The real hourly DAG on the AWS path: Athena extract, quality gate and records on S3, Glue partition, Redis."""

from __future__ import annotations

from featurekit.offline.athena import ensure_table
from featurekit.offline.layout import partition_value
from featurekit.offline.records import latest_record
from featurekit.offline.schema import offline_schema
from featurekit.offline.storage import offline_location
from featurekit.repo.apply import apply_repo, checked_repo
from featurekit.repo.feast_config import feature_store
from support.batch_project import HOUR


def test_hourly_dag_runs_on_athena(airflow_home, paths, monkeypatch) -> None:
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


def test_failing_batch_is_quarantined_on_s3(airflow_home, paths, monkeypatch) -> None:
    import io
    import json

    import pyarrow.parquet as pq

    from featurekit.orchestration.factory import build_dags
    from featurekit.orchestration.runner import test_interval
    from support.redis_state import redis_snapshot

    monkeypatch.setenv("FEATUREKIT_ENV", "emulated")
    monkeypatch.setenv("FEATUREKIT_DATA_DIR", str(paths.athena.data_dir))
    repo = checked_repo(paths.athena)
    ensure_table(paths.athena.offline_store, "user_txn_24h", offline_schema(repo.view("user_txn_24h")))
    apply_repo(paths.athena, repo)
    # The warehouse's transactions object is replaced by an empty load.
    s3 = paths.emulator.client("s3")
    location = glue_location(paths, "transactions")
    bucket, key = location.removeprefix("s3://").split("/", 1)
    current = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=f"{key.rstrip('/')}/part-0.parquet")["Body"].read())
    )
    sink = io.BytesIO()
    pq.write_table(current.schema.empty_table(), sink)
    s3.put_object(Bucket=bucket, Key=f"{key.rstrip('/')}/part-0.parquet", Body=sink.getvalue())
    before = redis_snapshot(paths.athena.online_store.tiers["hot"].url)

    run = test_interval(build_dags()["featurekit_hourly"], HOUR)

    assert run.state == "failed" and run.tasks["user_txn_24h.validate"] == "failed"
    assert redis_snapshot(paths.athena.online_store.tiers["hot"].url) == before
    partition = partition_value(HOUR.start, "hourly")
    offline = offline_location(paths.athena.offline_store)
    assert offline.files(f"user_txn_24h/ds={partition}", "batch-") == []
    quarantine = offline.files(f"_quarantine/user_txn_24h/ds={partition}")
    assert len(quarantine) == 1  # the batch's parquet, moved on S3
    with offline.fs.open_input_stream(offline.path(f"_quarantine/user_txn_24h/ds={partition}/validation.json")) as f:
        assert json.loads(f.read())["result"]["success"] is False
    assert latest_record(paths.athena, "user_txn_24h") is None


def glue_location(paths, table: str) -> str:
    glue = paths.emulator.client("glue")
    return glue.get_table(DatabaseName=paths.athena.warehouse.database, Name=table)["Table"]["StorageDescriptor"][
        "Location"
    ]
