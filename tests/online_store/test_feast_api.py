"""Feast's own API over the featurekit store: materialize, write_to_online_store, push and get_online_features
through the kit's batch engine, provider and whole-request read, checked against Feast's generic implementations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, PushSource, RepoConfig
from feast.feature_server_utils import convert_response_to_dict
from feast.infra.online_stores.online_store import OnlineStore
from feast.types import Bool, Float32, Float64, Int64, String

from featurekit.online_store.config import ENGINE_TYPE, PROVIDER_TYPE, STORE_TYPE
from featurekit.online_store.feast_read import ColumnarOnlineResponse
from featurekit.online_store.feast_write import FeaturekitMaterializationEngine
from support.online_store_views import Backend

USER = Entity(name="user", join_keys=["user_id"])
N_USERS = 300


def make_source(tmp_path: Path, now: datetime) -> FileSource:
    """Two rows per user (the newer one wins), some null features, µs timestamps."""
    ids = np.arange(1, N_USERS + 1, dtype=np.int64)
    frames = []
    for age_h, offset in ((5, 0.0), (1, 100.0)):
        frames.append(
            pd.DataFrame(
                {
                    "user_id": ids,
                    "bal": (ids * 1.5 + offset).astype(np.float32),
                    "cnt": pd.array([int(i) * 3 if i % 5 else None for i in ids], dtype="Int64"),
                    "avg_amt": ids / 7.0 + offset,
                    "segment": [f"seg-{i % 4}" for i in ids],
                    "active": [bool(i % 2) for i in ids],
                    "ts": pd.Timestamp(now - timedelta(hours=age_h)),
                    "created": pd.Timestamp(now - timedelta(hours=age_h)),
                }
            )
        )
    table = pa.Table.from_pandas(pd.concat(frames), preserve_index=False)
    table = table.set_column(
        table.schema.get_field_index("ts"), "ts", table.column("ts").cast(pa.timestamp("us", tz="UTC"))
    )
    table = table.set_column(
        table.schema.get_field_index("created"),
        "created",
        table.column("created").cast(pa.timestamp("us", tz="UTC")),
    )
    path = tmp_path / "users.parquet"
    pq.write_table(table, path)
    # ``bal`` is stored as ``balance_raw`` in the file: the source's field mapping renames it.
    pq.write_table(table.rename_columns([("balance_raw" if c == "bal" else c) for c in table.column_names]), path)
    return FileSource(
        path=str(path), timestamp_field="ts", created_timestamp_column="created", field_mapping={"balance_raw": "bal"}
    )


def views(source: FileSource) -> list:
    schema = [
        Field(name="user_id", dtype=Int64),
        Field(name="bal", dtype=Float32),
        Field(name="cnt", dtype=Int64),
        Field(name="avg_amt", dtype=Float64),
        Field(name="segment", dtype=String),
        Field(name="active", dtype=Bool),
    ]
    stats = FeatureView(name="stats", entities=[USER], ttl=timedelta(days=2), schema=schema, source=source)
    push = PushSource(name="live_push", batch_source=source)
    live = FeatureView(name="live", entities=[USER], ttl=timedelta(days=2), schema=schema, source=push)
    service = FeatureService(name="svc", features=[stats[["bal", "segment"]], live[["cnt"]]])
    return [USER, stats, push, live, service]


def config(tmp_path: Path, redis_url: str, project: str, *, fast: bool = True, cluster: bool = False) -> RepoConfig:
    extra = {"provider": PROVIDER_TYPE, "batch_engine": {"type": ENGINE_TYPE}} if fast else {"provider": "local"}
    return RepoConfig(
        project=project,
        registry=str(tmp_path / f"{project}.db"),
        entity_key_serialization_version=3,
        online_store={
            "type": STORE_TYPE,
            "tiers": {"warm": {"url": redis_url, "cluster": cluster}},
            "default_tier": "warm",
        },
        offline_store={"type": "duckdb"},
        repo_path=str(tmp_path),
        **extra,
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def stores(tmp_path: Path, backend: Backend, now: datetime) -> tuple[FeatureStore, FeatureStore]:
    """(kit engine + provider, Feast's own local engine + provider) over the same data, separate projects, on a
    standalone server and on a cluster."""
    source = make_source(tmp_path, now)
    out = []
    for project, fast in (("fastp", True), ("stockp", False)):
        fs = FeatureStore(config=config(tmp_path, backend.url, project, fast=fast, cluster=backend.cluster))
        fs.apply(views(source))
        out.append(fs)
    return out[0], out[1]


FEATURES = ["stats:bal", "stats:cnt", "stats:avg_amt", "stats:segment", "stats:active"]


def test_materialize_through_the_engine_matches_feasts_local_engine(stores, now):
    fast, stock = stores
    assert isinstance(fast._get_provider().batch_engine, FeaturekitMaterializationEngine)
    for fs in stores:
        fs.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])
    rows = [{"user_id": i} for i in (1, 5, 150, N_USERS, 999_999)]
    got = fast.get_online_features(FEATURES, rows).to_dict(include_event_timestamps=True)
    want = stock.get_online_features(FEATURES, rows).to_dict(include_event_timestamps=True)
    assert got == want
    assert got["bal"][:2] == [1.5 + 100.0, 7.5 + 100.0]  # the newer row, through the field mapping
    assert got["cnt"][1] is None and got["bal"][4] is None and got["bal__ts"][4] == 0


@pytest.mark.parametrize("batch", [3, 40])  # below and above the size where keys are encoded with numpy
def test_the_fast_reader_equals_feasts_per_view_reads(stores, now, batch):
    """``featurekit.serving.OnlineFeatureReader`` (the feature server's read path) on both tier clients."""
    from featurekit.serving import OnlineFeatureReader

    fast, stock = stores
    for fs in stores:
        fs.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])
    ids = [*np.random.default_rng(batch).integers(1, N_USERS + 1, batch - 1).tolist(), 999_999]  # one missing
    rows = [{"user_id": i} for i in ids]
    reader = OnlineFeatureReader.from_feature_store(fast)
    got = reader.get_online_features(FEATURES, rows, include_event_timestamps=True).to_dict()
    reader.close()
    assert got == stock.get_online_features(FEATURES, rows).to_dict(include_event_timestamps=True)
    assert any(v is None for v in got["bal"]) and any(v is not None for v in got["bal"])


def test_materialize_incremental_and_an_offline_error_is_raised(stores, now, tmp_path):
    fast, _ = stores
    fast.materialize_incremental(now + timedelta(minutes=1), feature_views=["stats"])
    assert fast.get_online_features(["stats:avg_amt"], [{"user_id": 7}]).to_dict()["avg_amt"] == [1.0 + 100.0]
    (tmp_path / "users.parquet").unlink()
    with pytest.raises(Exception, match=r"users\.parquet"):
        fast.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])


def test_write_to_online_store_and_push_write_arrow_and_read_back(stores, now):
    fast, stock = stores
    df = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "bal": np.array([1.25, 2.5, 3.75], dtype=np.float32),
            "cnt": pd.array([10, None, 30], dtype="Int64"),
            "avg_amt": [0.5, 1.5, 2.5],
            "segment": ["a", "b", None],
            "active": [True, False, True],
            "ts": [pd.Timestamp(now)] * 3,
            "created": [pd.Timestamp(now)] * 3,
        }
    )
    for fs in stores:
        fs.write_to_online_store("stats", df)
        fs.push("live_push", df)
    refs = [*FEATURES, "live:bal", "live:segment"]
    rows = [{"user_id": i} for i in (1, 2, 3, 4)]
    got = fast.get_online_features(refs, rows, full_feature_names=True).to_dict()
    assert got == stock.get_online_features(refs, rows, full_feature_names=True).to_dict()
    assert got["stats__bal"] == [1.25, 2.5, 3.75, None] and got["live__segment"] == ["a", "b", None, None]
    assert got["stats__cnt"] == [10, None, 30, None]


def test_bad_ingest_input_names_the_column(stores, now):
    fast, _ = stores
    df = pd.DataFrame({"user_id": [1], "bal": [1.0], "segment": ["x"], "ts": [pd.Timestamp(now)]})
    with pytest.raises(Exception, match="cnt"):
        fast.write_to_online_store("stats", df)


def test_response_protobuf_equals_feasts_generic_read(stores, now):
    """What ``feast serve`` serializes (``response.proto``) equals Feast's own per-view implementation."""
    fast, _ = stores
    fast.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])
    store = fast._get_provider().online_store
    for features, full in ((FEATURES, False), (fast.get_feature_service("svc"), True)):
        rows = {"user_id": [3, 999_999, 10]}
        ours = store.get_online_features(fast.config, features, rows, fast.registry, fast.project, full)
        assert isinstance(ours, ColumnarOnlineResponse)
        generic = OnlineStore.get_online_features(store, fast.config, features, rows, fast.registry, fast.project, full)
        assert convert_response_to_dict(ours.proto) == convert_response_to_dict(generic.proto)
        assert ours.to_dict(True) == generic.to_dict(True)
        assert ours.to_df().equals(generic.to_df())


def test_a_registry_change_is_seen_by_the_cached_plan(stores, now, tmp_path):
    fast, _ = stores
    fast.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])
    assert fast.get_online_features(["stats:bal"], [{"user_id": 2}]).to_dict()["bal"] == [103.0]
    source = fast.get_feature_view("stats").batch_source
    narrower = FeatureView(
        name="stats",
        entities=[USER],
        ttl=timedelta(days=2),
        schema=[Field(name="user_id", dtype=Int64), Field(name="avg_amt", dtype=Float64)],
        source=source,
    )
    FeatureStore(config=fast.config).apply([narrower])  # another client (e.g. CI) changes the registry file
    with pytest.raises(Exception, match="bal"):
        fast.get_online_features(["stats:bal"], [{"user_id": 2}])
    # The new plan uses the new row schema: rows written under the old one read as missing, never misread (a stale
    # plan would still decode them).
    assert fast.get_online_features(["stats:avg_amt"], [{"user_id": 2}]).to_dict()["avg_amt"] == [None]


def test_async_reads_equal_the_sync_ones(stores, now):
    """``feast serve`` awaits ``get_online_features_async`` on its loop when the store declares async reads."""
    import asyncio

    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    fast, _ = stores
    assert fast._get_provider().async_supported.online.read
    fast.materialize(now - timedelta(days=1), now + timedelta(minutes=1), feature_views=["stats"])
    rows = [{"user_id": i} for i in (4, 999_999, 40)]
    store = fast._get_provider().online_store
    view = fast.get_feature_view("stats")
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=r["user_id"])]) for r in rows]

    async def both() -> tuple:
        batch = await fast.get_online_features_async(FEATURES, rows)
        service = await fast.get_online_features_async(fast.get_feature_service("svc"), rows, full_feature_names=True)
        per_view = await store.online_read_async(fast.config, view, keys)
        return batch, service, per_view

    batch, service, per_view = asyncio.run(both())
    assert batch.to_dict(True) == fast.get_online_features(FEATURES, rows).to_dict(True)
    svc = fast.get_online_features(fast.get_feature_service("svc"), rows, full_feature_names=True)
    assert convert_response_to_dict(service.proto) == convert_response_to_dict(svc.proto)
    assert per_view == store.online_read(fast.config, view, keys)


def test_feast_can_await_the_store_close_at_shutdown(stores):
    """``feast serve`` awaits ``provider.close()`` -> ``online_store.close()`` (a coroutine in Feast's base class)."""
    import asyncio

    fast, _ = stores

    async def serve_and_shut_down() -> None:
        await fast.get_online_features_async(["stats:bal"], [{"user_id": 1}])
        await fast.close()

    asyncio.run(serve_and_shut_down())
    fast._get_provider().online_store.close()  # and the kit's plain call still works
    assert fast.get_online_features(["stats:bal"], [{"user_id": 1}]).to_dict()["bal"] == [None]


def test_async_writes_and_push_land_like_the_sync_ones(stores, now, redis_url):
    """``feast serve``'s push endpoint awaits ``push_async`` once the store declares async writes: through the kit's
    provider (Arrow) and Feast's stock provider (protobuf rows into ``online_write_batch_async``) alike."""
    import asyncio

    import redis

    assert all(fs._get_provider().async_supported.online.write for fs in stores)
    df = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "bal": np.array([1.25, 2.5, 3.75], dtype=np.float32),
            "cnt": pd.array([10, None, 30], dtype="Int64"),
            "avg_amt": [0.5, 1.5, 2.5],
            "segment": ["a", "b", None],
            "active": [True, False, True],
            "ts": [pd.Timestamp(now)] * 3,
            "created": [pd.Timestamp(now)] * 3,
        }
    )
    older = df.assign(bal=np.float32(-1.0), ts=pd.Timestamp(now - timedelta(hours=1)))
    redis.Redis.from_url(redis_url).script_flush()  # a restarted Redis has no scripts: the writes load their own

    async def write_all() -> None:
        for fs in stores:
            await fs.write_to_online_store_async("stats", df)
            await fs.push_async("live_push", df)
            await fs.write_to_online_store_async("stats", older)  # newer wins on the async path too

    asyncio.run(write_all())
    refs = [*FEATURES, "live:bal", "live:segment"]
    rows = [{"user_id": i} for i in (1, 2, 3, 4)]
    fast, stock = stores
    got = fast.get_online_features(refs, rows, full_feature_names=True).to_dict()
    assert got == stock.get_online_features(refs, rows, full_feature_names=True).to_dict()
    assert got["stats__bal"] == [1.25, 2.5, 3.75, None] and got["live__segment"] == ["a", "b", None, None]
    assert got["stats__cnt"] == [10, None, 30, None]


def test_an_async_write_to_a_down_redis_names_view_tier_and_progress(tmp_path, now):
    import asyncio

    from featurekit.online_store.errors import RedisUnavailableError
    from featurekit.online_store.store import TieredRedisOnlineStore
    from featurekit.services.ports import free_port

    down = config(tmp_path, f"redis://127.0.0.1:{free_port()}/0", "downp")
    stats = views(make_source(tmp_path, now))[1]
    table = pa.table(
        {
            "user_id": pa.array([1, 2], pa.int64()),
            "bal": pa.array([1.0, 2.0], pa.float32()),
            "cnt": pa.array([1, 2], pa.int64()),
            "avg_amt": pa.array([1.0, 2.0]),
            "segment": pa.array(["a", "b"]),
            "active": pa.array([True, False]),
            "ts": pa.array([now, now], pa.timestamp("us", tz="UTC")),
        }
    )
    with pytest.raises(RedisUnavailableError, match=r"feature view 'stats' to tier 'warm' stopped after 0 of 2 rows"):
        asyncio.run(TieredRedisOnlineStore().write_arrow_async(down, stats, table))
