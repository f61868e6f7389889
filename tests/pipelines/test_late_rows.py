"""Duplicate, late and out-of-order rows in the warehouse, end to end through extract, validate and materialize."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit import duckdb_utc
from featurekit.config import Settings
from featurekit.intervals import DataInterval, floor_to
from featurekit.offline.layout import partition_value
from featurekit.offline.storage import offline_location
from featurekit.pipelines.extract import extract_view
from featurekit.pipelines.materialize import materialize_view
from featurekit.quality.validate import validate_partition
from featurekit.repo.feast_config import feature_store
from featurekit.repo.loader import load_repo
from featurekit.warehouse.load import load_duckdb

END = floor_to(datetime.now(UTC), "daily")
TODAY = DataInterval(END - timedelta(days=1), END)
YESTERDAY = DataInterval(END - timedelta(days=2), END - timedelta(days=1))
USER = 100_007


def online_balance(settings: Settings) -> float | None:
    store = feature_store(settings)
    return store.get_online_features(features=["user_balance_live:balance"], entity_rows=[{"user_id": USER}]).to_dict()[
        "balance"
    ][0]


def run(settings: Settings, view, interval: DataInterval) -> None:
    extract_view(settings, view, interval)
    validate_partition(settings, view, interval)
    materialize_view(settings, view, interval)


def test_duplicate_late_and_out_of_order_rows(settings: Settings) -> None:
    load_duckdb(
        generate(WarehouseSpec(users=60, days=4, end=END.replace(tzinfo=None), seed=9)), settings.warehouse.path
    )
    view = load_repo(settings).view("user_balance_live")
    late_at = (YESTERDAY.end - timedelta(minutes=1)).replace(tzinfo=None)
    with duckdb_utc.connect(settings.warehouse.path) as con:
        # Exact duplicates of every check (a double load) must not duplicate offline rows.
        con.execute("INSERT INTO balance_checks SELECT * FROM balance_checks")
        # Today's latest check for USER, so today's value is known.
        con.execute(
            "INSERT INTO balance_checks VALUES (990001, ?, ?, 111.0, 'active')",
            [USER, (TODAY.end - timedelta(minutes=5)).replace(tzinfo=None)],
        )

    run(settings, view, YESTERDAY)
    run(settings, view, TODAY)  # duplicates passed the uniqueness check
    assert online_balance(settings) == 111.0

    # A check for yesterday arrives late (after both runs), out of order; yesterday is re-run (backfill).
    with duckdb_utc.connect(settings.warehouse.path) as con:
        con.execute("INSERT INTO balance_checks VALUES (990002, ?, ?, -42.0, 'passive')", [USER, late_at])
    run(settings, view, YESTERDAY)

    assert online_balance(settings) == 111.0  # newer-wins: the late, older value does not overwrite today's
    rows = offline_location(settings.offline_store).read_partition(view.name, partition_value(YESTERDAY.start, "daily"))
    mine = [r for r in rows.to_pylist() if r["user_id"] == USER]
    assert [r["balance"] for r in mine] == [-42.0]  # the rerun replaced the partition: one row, the late one

    entities = pd.DataFrame(
        {"user_id": [USER, USER], "event_timestamp": [pd.Timestamp(late_at, tz="UTC"), pd.Timestamp(TODAY.end)]}
    )
    training = feature_store(settings).get_historical_features(
        entity_df=entities, features=["user_balance_live:balance"]
    )
    frame = training.to_df().sort_values("event_timestamp")
    assert frame["balance"].tolist() == [-42.0, 111.0]  # point in time: each request sees what was known then
