"""Availability-time training data: a value joins when it became servable online, not when it happened."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.config import Settings
from featurekit.intervals import DataInterval, floor_to
from featurekit.offline.availability import AvailabilityModeError, get_historical_features
from featurekit.offline.records import record_materialization
from featurekit.offline.storage import offline_location
from featurekit.pipelines.extract import extract_view
from featurekit.pipelines.materialize import MaterializeResult
from featurekit.warehouse.load import load_duckdb

END = floor_to(datetime.now(UTC), "daily") - timedelta(days=1)
DAYS = [DataInterval(END - timedelta(days=n), END - timedelta(days=n - 1)) for n in (4, 3, 2, 1)]
NO_RECORD = DAYS[0]  # this partition was never recorded: available at event time + one day
USERS = list(range(100_001, 100_041))
FEATURES = ["user_txn_30d:spend_30d", "user_txn_30d:txn_count_30d", "user_balance_live:balance"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_server) -> Settings:
    """One offline store for the module: the tests only read it."""
    from featurekit.config import load_settings
    from featurekit.repo.apply import apply_repo, checked_repo

    data = tmp_path_factory.mktemp("availability") / "data"
    url = redis_server.url
    loaded = load_settings(
        "local",
        overrides={
            "data_dir": str(data),
            "registry": {"path": str(data / "registry.db")},
            "warehouse": {"path": str(data / "warehouse.duckdb")},
            "offline_store": {"root": str(data / "offline")},
            "online_store": {"tiers": {"hot": {"url": url}, "warm": {"url": url}}},
            # This module tests when values join, not the quality gate (tests/pipelines/test_validation_gate.py): its
            # partitions are extracted without a validation run, which training would otherwise skip.
            "quality": {"training_requires_validation": False},
        },
    )
    apply_repo(loaded, checked_repo(loaded))
    return loaded


@pytest.fixture(scope="module")
def store(settings: Settings):
    from featurekit.repo.feast_config import feature_store
    from featurekit.repo.loader import load_repo

    load_duckdb(generate(WarehouseSpec(users=40, days=40, end=END.replace(tzinfo=None), seed=3)),
                settings.warehouse.path)  # fmt: skip
    repo = load_repo(settings)
    views = {v.name: v for v in [*repo.batch_views, *repo.stream_views]}
    hour = DataInterval(DAYS[-1].end - timedelta(hours=1), DAYS[-1].end)
    extract_view(settings, views["user_txn_24h"], hour)  # the service reads every view: give each some rows
    for interval in DAYS:
        for name in ("user_txn_30d", "user_balance_live", "user_profile", "user_txn_1h"):
            result = extract_view(settings, views[name], interval)
            if interval != NO_RECORD:  # the DAG's materialize ran at 02:00 after the interval
                done = MaterializeResult(result.view, result.partition, result.rows, result.rows)
                record_materialization(settings, done, interval, finished_at=interval.end + timedelta(hours=2))
    # The stream sink's rows in the newest partition: available at their processing time (created).
    rng = random.Random(4)
    stream = pa.table({
        "user_id": pa.array(USERS[:20], pa.int64()),
        "balance": pa.array([rng.uniform(-100, 900) for _ in range(20)]),
        "balance_source": pa.array(["passive"] * 20),
        "balance_observed_at": pa.array([0] * 20, pa.int64()),
        "event_timestamp": pa.array([DAYS[-1].start + timedelta(minutes=rng.randrange(1440)) for _ in range(20)],
                                    pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    created = [t + timedelta(seconds=rng.randrange(5, 600)) for t in stream.column("event_timestamp").to_pylist()]
    stream = stream.append_column("created", pa.array(created, pa.timestamp("us", tz="UTC")))
    offline_location(settings.offline_store).append("user_balance_live", DAYS[-1].start.strftime("%Y-%m-%d"),
                                                    stream, "stream-q-1.parquet")  # fmt: skip
    return feature_store(settings)


def entity_df(rows: list[tuple[int, datetime]]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [u for u, _ in rows], "event_timestamp": [t for _, t in rows]})


def spend(settings: Settings, day: int, user: int) -> float:
    table = offline_location(settings.offline_store).read_partition("user_txn_30d", f"{DAYS[day].start:%Y-%m-%d}")
    frame = table.to_pandas()
    return float(frame.loc[frame.user_id == user, "spend_30d"].iloc[0])


def test_daily_view_materialized_at_two_gives_the_previous_days_value_at_one(store, settings: Settings) -> None:
    user = USERS[0]
    midnight = DAYS[2].end  # the snapshot of DAYS[2] is stamped at midnight and materialized at 02:00
    frame = entity_df([(user, midnight + timedelta(hours=1)), (user, midnight + timedelta(hours=3))])
    features = ["user_txn_30d:spend_30d"]

    event = get_historical_features(store, settings, frame, features).to_df()
    avail = get_historical_features(store, settings, frame, features, mode="availability").to_df()

    # Event time: at 01:00 training already sees the midnight snapshot, which serving only got at 02:00 ...
    assert event["spend_30d"].tolist() == [spend(settings, 2, user)] * 2
    # ... availability time: at 01:00 the previous day's value (what was served), at 03:00 the new one.
    assert avail["spend_30d"].tolist() == [spend(settings, 1, user), spend(settings, 2, user)]
    assert spend(settings, 1, user) != spend(settings, 2, user)  # the test can tell them apart


def test_mode_from_the_feature_service_tag_and_bad_modes(store, settings: Settings) -> None:
    service = store.get_feature_service("cash_advance_v1")
    frame = entity_df([(USERS[0], DAYS[2].end + timedelta(hours=1))]).assign(requested_amount=100.0)
    service.tags["training_time"] = "availability"
    tagged = get_historical_features(store, settings, frame, service).to_df()
    assert tagged["spend_30d"].tolist() == [spend(settings, 1, USERS[0])]
    service.tags["training_time"] = "serving"
    with pytest.raises(AvailabilityModeError, match="feature service 'cash_advance_v1' tag training_time"):
        get_historical_features(store, settings, frame, service)
    del service.tags["training_time"]  # untagged: event time, the midnight snapshot
    assert get_historical_features(store, settings, frame, service).to_df()["spend_30d"].tolist() == [
        spend(settings, 2, USERS[0])
    ]
    with pytest.raises(AvailabilityModeError, match="'later' is not a training time mode"):
        get_historical_features(store, settings, frame, ["user_txn_30d:spend_30d"], mode="later")


def brute_force(settings: Settings, rows: list[tuple[int, datetime]]) -> dict[str, list]:
    """Availability-time values by the definition, row by row, in plain Python."""
    from featurekit.offline.records import read_records

    location = offline_location(settings.offline_store)
    out: dict[str, list] = {"spend_30d": [], "txn_count_30d": [], "balance": []}
    for view, names, ttl, step in (("user_txn_30d", ["spend_30d", "txn_count_30d"], timedelta(days=3),
                                    timedelta(days=1)), ("user_balance_live", ["balance"], timedelta(days=7),
                                                         timedelta(days=1))):  # fmt: skip
        finished = {r.partition: r.finished_at for r in read_records(settings, view)}
        candidates = []
        for partition in location.partitions(view):
            for path in location.files(f"{view}/ds={partition}"):
                import pyarrow.parquet as pq

                for row in pq.read_table(path).to_pylist():
                    if Path(path).name.startswith("stream-"):
                        available = row["created"]
                    else:
                        available = finished.get(partition, row["event_timestamp"] + step)
                    candidates.append((row, available))
        for user, t in rows:
            usable = [r for r, a in candidates if r["user_id"] == user and a <= t]
            best = max(usable, key=lambda r: (r["event_timestamp"], r["created"]), default=None)
            if best is not None and best["event_timestamp"] < t - ttl:
                best = None
            for name in names:
                out[name].append(None if best is None else best[name])
    return out


def test_availability_mode_matches_a_brute_force_expectation(store, settings: Settings) -> None:
    rng = random.Random(9)
    start, span = DAYS[0].start, int((DAYS[-1].end + timedelta(days=1) - DAYS[0].start).total_seconds())
    rows = [(rng.choice(USERS), start + timedelta(seconds=rng.randrange(span))) for _ in range(400)]
    # Edges: exactly at a materialization, a second before it, and at a stream row's processing time.
    edge = DAYS[2].end + timedelta(hours=2)
    rows += [(USERS[1], edge), (USERS[1], edge - timedelta(seconds=1))]

    got = get_historical_features(store, settings, entity_df(rows), FEATURES, mode="availability").to_df()

    expected = brute_force(settings, rows)
    for name, values in expected.items():
        actual = [None if pd.isna(v) else v for v in got[name].tolist()]
        assert actual == values, name
    assert sum(v is not None for v in expected["balance"]) > 50  # not vacuous: most rows found a value
