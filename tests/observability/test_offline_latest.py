"""Point-in-time reads of the offline store: ttl window, partition pruning, ties on ``created``, compound keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String

from featurekit.observability.offline_latest import latest_rows, offline_window
from featurekit.offline.storage import offline_location
from support.ops_platform import ops_settings

AS_OF = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def _view() -> FeatureView:
    user = Entity(name="user", join_keys=["user_id"])
    merchant = Entity(name="merchant", join_keys=["merchant_id"])
    return FeatureView(
        name="user_merchant_spend",
        entities=[user, merchant],
        ttl=timedelta(days=2),
        schema=[
            Field(name="user_id", dtype=Int64),
            Field(name="merchant_id", dtype=String),
            Field(name="spend", dtype=Float64),
        ],
        source=FileSource(
            name="ums", path="unused.parquet", timestamp_field="event_timestamp", created_timestamp_column="created"
        ),
        tags={"schedule": "daily", "tier": "warm"},
    )


def _rows(*rows: tuple[int, str, float, datetime, datetime]) -> pa.Table:
    users, merchants, spend, events, created = zip(*rows, strict=True)
    return pa.table({
        "user_id": pa.array(users, pa.int64()), "merchant_id": pa.array(merchants), "spend": pa.array(spend),
        "event_timestamp": pa.array(events, TS), "created": pa.array(created, TS),
    })  # fmt: skip


def test_latest_row_per_compound_key_within_ttl(tmp_path) -> None:
    settings = ops_settings(tmp_path, "")
    location = offline_location(settings.offline_store)
    day = timedelta(days=1)
    early, late = AS_OF - timedelta(hours=5), AS_OF - timedelta(hours=1)
    location.replace_partition("user_merchant_spend", "2026-03-01", _rows(
        (1, "a", 999.0, AS_OF - 9 * day, AS_OF - 9 * day),  # far past the 2-day ttl: its partition is not read
    ))  # fmt: skip
    location.replace_partition("user_merchant_spend", "2026-03-10", _rows(
        (1, "a", 10.0, early, early),
        (1, "a", 11.0, late, late),  # newest for (1, a)
        (1, "b", 20.0, late, late),
        (1, "b", 21.0, late, late + timedelta(minutes=5)),  # same event time, later created: wins
        (2, "a", 30.0, early, early),
        (2, "a", 31.0, AS_OF + timedelta(hours=1), AS_OF),  # after as_of: invisible
    ))  # fmt: skip
    location.replace_partition("user_merchant_spend", "2026-03-08", _rows(
        (3, "c", 40.0, AS_OF - timedelta(days=1, hours=23), AS_OF),  # inside the ttl
        (4, "d", 50.0, AS_OF - timedelta(days=2, hours=1), AS_OF),  # just outside the ttl
    ))  # fmt: skip

    view = _view()
    window = offline_window(settings, view, AS_OF)
    assert window.partitions == ["2026-03-08", "2026-03-10"]
    entities = window.entities(["merchant_id", "user_id"])
    assert entities.to_pylist() == [
        {"merchant_id": "a", "user_id": 1}, {"merchant_id": "a", "user_id": 2},
        {"merchant_id": "b", "user_id": 1}, {"merchant_id": "c", "user_id": 3},
    ]  # fmt: skip
    # (2, b) has no row: the compound key matches exactly, not per column
    wanted = pa.table({"merchant_id": ["a", "b", "b"], "user_id": pa.array([1, 1, 2], pa.int64())})
    latest = latest_rows(window, view, wanted)
    got = {(r["user_id"], r["merchant_id"]): r["spend"] for r in latest.to_pylist()}
    assert got == {(1, "a"): 11.0, (1, "b"): 21.0}

    through = offline_window(settings, view, AS_OF, through_partition="2026-03-09")
    assert through.partitions == ["2026-03-08"]
    assert offline_window(settings, view, AS_OF - timedelta(days=30)).empty
