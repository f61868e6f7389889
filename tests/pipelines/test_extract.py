"""Extract: warehouse SQL for an interval becomes exactly that interval's offline partition."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from featurekit import duckdb_utc
from featurekit.intervals import DataInterval
from featurekit.offline.schema import SchemaDriftError, conform, offline_schema
from featurekit.offline.storage import offline_location
from featurekit.pipelines.extract import ExtractError, extract_view

END = datetime(2026, 1, 1)
DAY = DataInterval(END - timedelta(days=1), END)


def test_daily_snapshot_matches_an_independent_computation(offline_settings, repo) -> None:
    result = extract_view(offline_settings, repo.view("user_txn_30d"), DAY)
    assert result.partition == "2025-12-31"
    table = offline_location(offline_settings.offline_store).read_partition("user_txn_30d", "2025-12-31")
    assert table.schema.equals(offline_schema(repo.view("user_txn_30d")))
    with duckdb_utc.connect(offline_settings.warehouse.path, read_only=True) as con:
        expected = dict(
            con.execute(
                "SELECT user_id, count(*) FROM transactions "
                "WHERE ts >= TIMESTAMP '2025-12-02' AND ts < TIMESTAMP '2026-01-01' GROUP BY 1"
            ).fetchall()
        )
        users = con.execute("SELECT count(*) FROM users WHERE signup_at < TIMESTAMP '2026-01-01'").fetchone()[0]
    rows = table.to_pylist()
    assert len(rows) == users  # users without transactions get a zero row, not a missing one
    for row in rows:
        assert row["txn_count_30d"] == expected.get(row["user_id"], 0)
        assert row["event_timestamp"] == datetime(2026, 1, 1, tzinfo=row["event_timestamp"].tzinfo)


def test_rerun_replaces_the_partition(offline_settings, repo) -> None:
    view = repo.view("user_profile")
    location = offline_location(offline_settings.offline_store)
    first = extract_view(offline_settings, view, DAY)
    second = extract_view(offline_settings, view, DAY)
    files = location.files("user_profile/ds=2025-12-31")
    assert files == [second.path] and first.path != second.path
    assert location.read_partition("user_profile", "2025-12-31").num_rows == second.rows


def test_hourly_view_gets_an_hourly_partition(offline_settings, repo) -> None:
    hour = DataInterval(END - timedelta(hours=1), END)
    assert extract_view(offline_settings, repo.view("user_txn_24h"), hour).partition == "2025-12-31T23"


def test_stream_view_backfill_keeps_streamed_files(offline_settings, repo) -> None:
    location = offline_location(offline_settings.offline_store)
    streamed = location.replace_partition(
        "user_balance_live", "2025-12-31", pa.table({"user_id": [1]}), prefix="stream-"
    )
    extract_view(offline_settings, repo.view("user_balance_live"), DAY)
    extract_view(offline_settings, repo.view("user_balance_live"), DAY)
    names = [p.rsplit("/", 1)[1] for p in location.files("user_balance_live/ds=2025-12-31")]
    assert streamed in location.files("user_balance_live/ds=2025-12-31")
    assert sum(n.startswith("batch-") for n in names) == 1


def test_warehouse_failure_names_view_and_interval(offline_settings, repo, tmp_path) -> None:
    broken = offline_settings.model_copy(
        update={"warehouse": offline_settings.warehouse.model_copy(update={"path": tmp_path / "none.duckdb"})}
    )
    with pytest.raises(
        ExtractError, match=r"extract user_profile \[2025-12-31.*warehouse query failed.*does not exist"
    ):
        extract_view(broken, repo.view("user_profile"), DAY)


def test_schema_drift_names_the_column(repo) -> None:
    schema = offline_schema(repo.view("user_txn_30d"))
    good = {f.name: pa.array([None], type=f.type) for f in schema}
    drifted = pa.table({**good, "txn_count_30d": pa.array(["many"])})
    with pytest.raises(SchemaDriftError, match=r"txn_count_30d.*string.*int64"):
        conform(drifted, schema, where="extract user_txn_30d")
    missing = pa.table({k: v for k, v in good.items() if k != "spend_30d"})
    with pytest.raises(SchemaDriftError, match=r"'spend_30d' is missing"):
        conform(missing, schema, where="extract user_txn_30d")
