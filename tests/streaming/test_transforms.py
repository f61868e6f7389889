"""The generated transformations of the bundled stream views on small inputs (same code the streaming queries run:
the latest-value kernel per micro-batch, the windowed aggregation on a static DataFrame)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from featurekit.streaming.errors import StreamConfigError
from featurekit.streaming.session import kafka_records
from featurekit.streaming.transforms import latest_rows, window_rows
from support.streams import settings_for

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_latest_balance_per_user_by_event_time_then_offset(repo_specs):
    rows = [
        # user, balance, source, event time, offset
        (1, 10.0, "passive", T0, 0),
        (1, 30.0, "active", T0 + timedelta(minutes=2), 1),
        (1, 20.0, "passive", T0 + timedelta(minutes=1), 2),  # arrived later, older event: loses
        (2, 5.0, "passive", T0, 3),
        (2, 6.0, "passive", T0, 4),  # same instant: the later offset wins
    ]
    events = pa.table(
        {
            "user_id": pa.array([r[0] for r in rows], pa.int64()),
            "balance": [r[1] for r in rows],
            "balance_source": [r[2] for r in rows],
            "event_timestamp": pa.array([r[3] for r in rows], pa.timestamp("us", tz="UTC")),
            "offset": pa.array([r[4] for r in rows], pa.int64()),
            "error": pa.array([None] * len(rows), pa.string()),
        }
    )
    expected = [
        {"user_id": 1, "balance": 30.0, "balance_source": "active", "balance_observed_at": int(T0.timestamp()) + 120},
        {"user_id": 2, "balance": 6.0, "balance_source": "passive", "balance_observed_at": int(T0.timestamp())},
    ]
    rows = latest_rows(repo_specs["user_balance_live"], events)
    assert rows.column_names == ["user_id", "balance", "balance_source", "balance_observed_at", "event_timestamp"]
    arrow = rows.drop_columns(["event_timestamp"]).to_pylist()
    assert sorted(arrow, key=lambda r: r["user_id"]) == expected


def test_txn_1h_emits_the_window_current_at_each_users_newest_event(spark, repo_specs):
    txns = [
        (1, 7, -10.0, T0 - timedelta(minutes=70)),  # outside the hour before the newest event
        (2, 7, -20.0, T0 - timedelta(minutes=40)),
        (3, 7, 100.0, T0 - timedelta(minutes=2)),
        (3, 7, 100.0, T0 - timedelta(minutes=2)),  # the same txn sent twice: counted once
        (4, 7, -5.0, T0 + timedelta(minutes=1)),
        (5, 8, -1.0, T0),
    ]
    frame = spark.createDataFrame(txns, "txn_id bigint, user_id bigint, amount double, event_timestamp timestamp")
    rows: dict[int, dict] = {}
    # one as-of row per (user, newest event of a window); keep the newest
    for row in window_rows(repo_specs["user_txn_1h"], frame).collect():
        if row.user_id not in rows or row.event_timestamp > rows[row.user_id]["event_timestamp"]:
            rows[row.user_id] = row.asDict()
    newest_7 = rows[7]
    # collect() gives naive datetimes in the Python process's local zone (PySpark's Row conversion ignores the UTC
    # session zone); astimezone() reads them as local time, so this holds under any TZ.
    assert newest_7["event_timestamp"].astimezone(UTC) == T0 + timedelta(minutes=1)
    assert (newest_7["txn_count_1h"], newest_7["spend_1h"], newest_7["income_1h"]) == (3, 25.0, 100.0)
    assert (rows[8]["txn_count_1h"], rows[8]["spend_1h"]) == (1, 1.0)


def test_official_kafka_format_without_its_jar_is_a_clear_error(spark, tmp_path):
    settings = settings_for(tmp_path, "redis://127.0.0.1:9/0", "127.0.0.1:9", streaming={"source_format": "kafka"})
    with pytest.raises(StreamConfigError, match=r"spark-sql-kafka-0-10_2\.13:4\.\d+\.\d+.*featurekit-kafka"):
        kafka_records(spark, settings, "balance-events")


def test_a_micro_batch_with_no_valid_event_gives_no_rows_without_running_the_transform(repo_specs):
    """Every event dead-lettered (or an empty poll): the transform's derived column (``balance_observed_at``) cannot
    exist, which must not read as "transform did not produce it" (that restarted the query forever)."""
    events = pa.table(
        {
            "user_id": pa.array([7], pa.int64()),
            "balance": [1.0],
            "balance_source": ["passive"],
            "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC")),
            "offset": pa.array([0], pa.int64()),
            "error": pa.array(["balance: not a number"], pa.string()),
        }
    )
    spec = repo_specs["user_balance_live"]
    for batch in (events, events.slice(0, 0)):
        rows = latest_rows(spec, batch)
        assert rows.num_rows == 0
        assert rows.column_names == ["user_id", "balance", "balance_source", "balance_observed_at", "event_timestamp"]
