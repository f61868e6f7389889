"""Point-in-time rules for duplicate, late and out-of-order rows, in the kit's ASOF retrieval and in stock Feast.

The offline rows are written by hand so every rule has a case: equal event timestamps resolved by ``created``
(a rerun's rows win, whichever file they sit in), rows arriving late and out of order, the ttl edge, an entity
timestamp exactly on an event timestamp, unknown users, and duplicate entity rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from featurekit.config import Settings
from featurekit.offline.schema import offline_schema
from featurekit.offline.storage import offline_location
from featurekit.repo.feast_config import feature_store, feature_store_dict

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FEATURES = ["user_txn_30d:spend_30d", "user_txn_30d:txn_count_30d"]


def rows(settings: Settings, partition: str, prefix: str, data: list[tuple[int, datetime, float, datetime]]) -> None:
    """Write ``(user, event_timestamp, spend, created)`` rows as one file of the user_txn_30d partition."""
    from featurekit.repo.loader import load_repo

    view = load_repo(settings).view("user_txn_30d")
    columns = {
        "user_id": [r[0] for r in data],
        "txn_count_30d": [int(r[2]) for r in data],
        "spend_30d": [r[2] for r in data],
        "income_30d": [0.0] * len(data),
        "avg_txn_amount_30d": [0.0] * len(data),
        "overdraft_count_30d": [0] * len(data),
        "event_timestamp": [r[1] for r in data],
        "created": [r[3] for r in data],
    }
    table = pa.Table.from_pydict(columns, schema=offline_schema(view))
    offline_location(settings.offline_store).replace_partition("user_txn_30d", partition, table, prefix=prefix)


def stock_store(settings: Settings):
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    config = feature_store_dict(settings)
    config["offline_store"] = {"type": "duckdb"}
    return FeatureStore(
        config=RepoConfig(repo_path=settings.feature_repo, **config), repo_path=str(settings.feature_repo)
    )


def retrieve(store, entities: pd.DataFrame) -> pd.DataFrame:
    frame = store.get_historical_features(entity_df=entities, features=FEATURES).to_df()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    return frame.sort_values(["user_id", "event_timestamp", "spend_30d"]).reset_index(drop=True)[sorted(frame.columns)]


@pytest.fixture
def tricky(settings: Settings) -> Settings:
    day1, day2 = T0, T0 + timedelta(days=1)
    first, rerun = T0 + timedelta(days=1, hours=1), T0 + timedelta(days=2, hours=5)
    rows(settings, "2026-03-01", "batch-", [(1, day1, 10.0, first), (2, day1, 20.0, first)])
    # Day 2 as first extracted, then a rerun of the same interval that corrected user 1 (same event timestamp).
    rows(settings, "2026-03-02", "batch-", [(1, day2, 11.0, first), (2, day2, 21.0, first)])
    rows(settings, "2026-03-02", "stream-", [(1, day2, 12.0, rerun)])
    # A late, out-of-order row: observed between the two snapshots, written after both.
    rows(settings, "2026-03-02", "late-", [(2, day1 + timedelta(hours=6), 25.0, rerun)])
    # Hand-written rows, never validated: the point-in-time rules are compared with stock Feast, which has no gate.
    quality = settings.quality.model_copy(update={"training_requires_validation": False})
    return settings.model_copy(update={"quality": quality})


def test_point_in_time_rules(tricky: Settings) -> None:
    ttl = timedelta(days=3)  # user_txn_30d's ttl
    day2 = T0 + timedelta(days=1)
    cases = [
        (1, T0 - timedelta(seconds=1), None),  # before any row
        (1, T0, 10.0),  # exactly on an event timestamp: included
        (1, day2, 12.0),  # same event timestamp twice: the newest `created` wins
        (1, day2 + ttl, 12.0),  # on the ttl edge: still alive
        (1, day2 + ttl + timedelta(seconds=1), None),  # past the ttl: null
        (2, T0 + timedelta(hours=7), 25.0),  # the late row is visible after its event time
        (2, T0 + timedelta(hours=5), 20.0),  # ... and not before it
        (2, day2, 21.0),
        (3, day2, None),  # unknown user: kept, with nulls
        (3, day2, None),  # duplicate entity row: kept twice
    ]
    entities = pd.DataFrame({"user_id": [c[0] for c in cases], "event_timestamp": [c[1] for c in cases]})

    ours = retrieve(feature_store(tricky), entities)
    stock = retrieve(stock_store(tricky), entities)

    expected = entities.assign(spend_30d=[c[2] for c in cases])
    expected["event_timestamp"] = expected["event_timestamp"].astype("datetime64[us, UTC]")
    expected = expected.sort_values(["user_id", "event_timestamp", "spend_30d"]).reset_index(drop=True)
    assert ours["spend_30d"].tolist() == pytest.approx(expected["spend_30d"].tolist(), nan_ok=True)
    assert len(ours) == len(entities)
    pd.testing.assert_frame_equal(ours, stock, check_dtype=False)


def test_kit_store_is_configured_for_the_parquet_offline_store(settings: Settings) -> None:
    from featurekit.offline.retrieval import FeaturekitOfflineStore

    store = feature_store(settings)
    assert type(store._get_provider().offline_store) is FeaturekitOfflineStore


def kit_store(settings: Settings, **options: str):
    """The kit's store with extra offline-store options (memory_limit, temp_directory)."""
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    config = feature_store_dict(settings)
    config["offline_store"] = {**config["offline_store"], **options}
    return FeatureStore(
        config=RepoConfig(repo_path=settings.feature_repo, **config), repo_path=str(settings.feature_repo)
    )


def test_rows_come_back_in_input_order_under_a_memory_cap(tricky: Settings, tmp_path) -> None:
    """The join returns matched rows in any order; they must land on their own entity rows, unmatched ones null."""
    day2 = T0 + timedelta(days=1)
    cases = [(2, day2, 21.0), (3, day2, None), (1, T0, 10.0), (1, day2, 12.0), (2, T0 + timedelta(hours=7), 25.0)]
    cases += [(1, T0 - timedelta(seconds=1), None), (2, day2, 21.0)]
    entities = pd.DataFrame({"user_id": [c[0] for c in cases], "event_timestamp": [c[1] for c in cases]})
    store = kit_store(tricky, memory_limit="64MB", temp_directory=str(tmp_path / "spill"))

    frame = store.get_historical_features(entity_df=entities, features=FEATURES).to_df()

    assert frame["user_id"].tolist() == entities["user_id"].tolist()
    expected = [float("nan") if c[2] is None else c[2] for c in cases]
    assert frame["spend_30d"].tolist() == pytest.approx(expected, nan_ok=True)
    empty = store.get_historical_features(entity_df=entities.head(0), features=FEATURES).to_df()
    assert len(empty) == 0 and {"spend_30d", "txn_count_30d"} <= set(empty.columns)


def test_a_bad_memory_limit_is_refused_by_duckdb(tricky: Settings) -> None:
    entities = pd.DataFrame({"user_id": [1], "event_timestamp": [T0]})
    store = kit_store(tricky, memory_limit="lots")
    with pytest.raises(Exception, match=r"(?i)memory"):
        store.get_historical_features(entity_df=entities, features=FEATURES).to_df()


def test_the_winner_s_features_come_from_its_own_file_and_row(tricky: Settings) -> None:
    """The plan picks a winner by (key, timestamps) and reads its feature columns by file and row: a file written
    before a column existed (no ``income_30d``) and many rows per file must still pair each winner with its row."""
    from featurekit.repo.loader import load_repo

    view = load_repo(tricky).view("user_txn_30d")
    schema = offline_schema(view)
    stamp, created = T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1)
    users = list(range(100, 400))
    full = {
        "user_id": users,
        "txn_count_30d": [u % 7 for u in users],
        "spend_30d": [u * 1.5 for u in users],
        "income_30d": [u * 2.0 for u in users],
        "avg_txn_amount_30d": [0.0] * len(users),
        "overdraft_count_30d": [0] * len(users),
        "event_timestamp": [stamp] * len(users),
        "created": [created] * len(users),
    }
    older = {k: v for k, v in full.items() if k != "income_30d"}
    older |= {"spend_30d": [-1.0] * len(users), "event_timestamp": [stamp - timedelta(hours=1)] * len(users)}
    location = offline_location(tricky.offline_store)
    location.replace_partition("user_txn_30d", "2026-03-03", pa.Table.from_pydict(full, schema=schema))
    old_schema = pa.schema([f for f in schema if f.name != "income_30d"])
    location.replace_partition("user_txn_30d", "2026-03-03", pa.Table.from_pydict(older, schema=old_schema), "old-")
    entities = pd.DataFrame(
        {"user_id": [*users[::-1], 150], "event_timestamp": [stamp] * len(users) + [stamp - timedelta(minutes=30)]}
    )
    features = [*FEATURES, "user_txn_30d:income_30d"]

    frame = feature_store(tricky).get_historical_features(entity_df=entities, features=features).to_df()

    assert frame["user_id"].tolist() == entities["user_id"].tolist()
    assert frame["spend_30d"].tolist() == [u * 1.5 for u in users[::-1]] + [-1.0]
    assert frame["txn_count_30d"].tolist() == [u % 7 for u in users[::-1]] + [150 % 7]
    assert frame["income_30d"].tolist()[:-1] == [u * 2.0 for u in users[::-1]]
    assert pd.isna(frame["income_30d"].iloc[-1])  # the older file has no such column: null, not a neighbour's value


def test_concurrent_retrievals_return_what_sequential_ones_do(tricky: Settings) -> None:
    """Retrievals share one DuckDB database per process, each on its own cursor: threads must not mix rows."""
    from concurrent.futures import ThreadPoolExecutor

    store = feature_store(tricky)
    day2 = T0 + timedelta(days=1)
    frames = [
        pd.DataFrame({"user_id": [n % 3 + 1] * 40, "event_timestamp": [T0 + timedelta(hours=h) for h in range(40)]})
        for n in range(6)
    ]
    frames.append(pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [day2, day2, day2]}))
    sequential = [retrieve(store, frame) for frame in frames]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda frame: retrieve(store, frame), frames * 2))
    for got, expected in zip(concurrent, sequential * 2, strict=True):
        pd.testing.assert_frame_equal(got, expected)


def test_on_demand_views_are_looked_up_only_when_a_ref_names_one(settings: Settings) -> None:
    """Listing the registry's on-demand views parses every one of them: skipped when the refs name only the views
    being joined (``registry=None`` would fail if asked), done when a ref names an on-demand view."""
    from featurekit.offline.retrieval import _requested_odfvs

    store = feature_store(settings)
    view = store.get_feature_view("user_txn_30d")
    assert _requested_odfvs([view], FEATURES, store.project, None) == []
    refs = [*FEATURES, "cash_advance_ratios:amount_to_income"]
    assert [o.name for o in _requested_odfvs([view], refs, store.project, store.registry)] == ["cash_advance_ratios"]
