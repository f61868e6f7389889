"""Extract through Athena (UNLOAD via pyathena, partitions on S3, Glue registration) equals the local extract."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from featurekit.intervals import DataInterval
from featurekit.offline.athena import ensure_table
from featurekit.offline.layout import BATCH_PREFIX, partition_dir, partition_value
from featurekit.offline.schema import offline_schema
from featurekit.offline.storage import offline_location
from featurekit.pipelines.extract import ExtractError, extract_view
from featurekit.repo.loader import load_repo
from support.batch_project import DAY


def to_ms(table: pa.Table) -> pa.Table:
    """Athena keeps timestamps at millisecond precision (docs/batch.md); compare at that precision."""
    table = table.drop_columns(["created"])
    ms = pa.timestamp("ms", tz="UTC")
    return table.set_column(
        table.column_names.index("event_timestamp"), "event_timestamp", table["event_timestamp"].cast(ms, safe=False)
    )


def test_athena_extract_equals_local_and_registers_partitions(paths) -> None:
    repo = load_repo(paths.local)
    glue = paths.emulator.client("glue")
    for view in [*repo.batch_views, *repo.stream_views]:
        ensure_table(paths.athena.offline_store, view.name, offline_schema(view))
        grain = "hourly" if view.tags["schedule"] == "hourly" else "daily"
        interval = DAY if grain == "daily" else DataInterval(DAY.end - timedelta(hours=1), DAY.end)
        partition = partition_value(interval.start, grain)

        remote = extract_view(paths.athena, view, interval)
        local = extract_view(paths.local, view, interval)

        assert remote.path.startswith(paths.athena.offline_store.s3_root.removeprefix("s3://"))
        got = offline_location(paths.athena.offline_store).read_partition(view.name, partition)
        want = offline_location(paths.local.offline_store).read_partition(view.name, partition)
        keys = [(c, "ascending") for c in (view.entity_columns[0].name, "event_timestamp")]
        assert to_ms(got).sort_by(keys).equals(to_ms(want).sort_by(keys)), view.name
        assert remote.rows == local.rows > 0
        stored = glue.get_partition(
            DatabaseName=paths.athena.offline_store.database, TableName=view.name, PartitionValues=[partition]
        )["Partition"]
        assert stored["StorageDescriptor"]["Location"].endswith(f"/{partition_dir(view.name, partition)}/")

    # A rerun replaces the partition (one batch file) and updates, not duplicates, the Glue partition.
    view = repo.view("user_txn_30d")
    extract_view(paths.athena, view, DAY)
    location = offline_location(paths.athena.offline_store)
    assert len(location.files(partition_dir("user_txn_30d", partition_value(DAY.start, "daily")), BATCH_PREFIX)) == 1
    partitions = glue.get_partitions(DatabaseName=paths.athena.offline_store.database, TableName="user_txn_30d")
    assert len(partitions["Partitions"]) == 1
    assert all(s.startswith("UNLOAD (") for s in paths.emulator.statements if "transactions" in s)


def test_athena_sql_error_names_view_interval_and_athena_reason(paths) -> None:
    repo = load_repo(paths.local)
    sql = paths.athena.feature_repo / "feature_views" / "user_txn_30d.sql"
    sql.write_text(sql.read_text().replace("FROM users AS u", "FROM users_v2 AS u"))
    with pytest.raises(ExtractError) as failure:
        extract_view(paths.athena, repo.view("user_txn_30d"), DAY)
    message = str(failure.value)
    assert "user_txn_30d" in message and DAY.start.isoformat() in message and "users_v2" in message
    assert "does not exist" in message


def test_athena_empty_interval_keeps_the_view_schema(paths) -> None:
    repo = load_repo(paths.local)
    view = repo.view("user_balance_live")
    ensure_table(paths.athena.offline_store, view.name, offline_schema(view))
    empty = DataInterval(DAY.start - timedelta(days=60), DAY.end - timedelta(days=60))  # before the warehouse

    result = extract_view(paths.athena, view, empty)

    assert result.rows == 0
    table = offline_location(paths.athena.offline_store).read_partition(
        view.name, partition_value(empty.start, "daily")
    )
    assert table.schema.equals(offline_schema(view))
    assert any(s.rstrip().endswith("LIMIT 0") for s in paths.emulator.statements)  # UNLOAD wrote no file
