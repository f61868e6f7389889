"""Fixtures for online-store contract tests: a Feast RepoConfig over a real standalone Redis and over a local
3-node Redis Cluster (``backend``), test feature views."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import redis
from feast import FeatureView, RepoConfig

from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.services.redis_cluster import LocalRedisCluster
from featurekit.services.redis_server import ServiceUnavailableError
from support.online_store_views import USER, Backend, repo_config


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def config(tmp_path: Path, backend: Backend) -> RepoConfig:
    return repo_config(tmp_path, backend.url, cluster=backend.cluster)


@pytest.fixture
def store() -> Iterator[TieredRedisOnlineStore]:
    s = TieredRedisOnlineStore()
    yield s
    s.close()


@pytest.fixture
def redis_client(backend: Backend) -> Any:
    return backend.client


@dataclass
class StoreApi:
    """One way of writing and reading the store: ``write(view, table)`` and ``read(view, ids) -> [values | None]``
    (plain Python values per entity, ``None`` = not found)."""

    name: str
    write: Callable[..., Any]
    read: Callable[..., list[dict[str, Any] | None]]


@pytest.fixture
def event_loop_runner() -> Iterator[Callable[[Any], Any]]:
    """Run coroutines on one event loop for the whole test (as ``feast serve`` does); its pooled Redis connections
    are closed at the end."""
    import asyncio

    from featurekit.online_store.aio import close_loop_connections

    loop = asyncio.new_event_loop()
    yield loop.run_until_complete

    async def close() -> None:
        close_loop_connections()

    loop.run_until_complete(close())
    loop.close()


@pytest.fixture(params=["kit", "feast_api", "feast_async"])
def api(
    request: pytest.FixtureRequest,
    store: TieredRedisOnlineStore,
    config: RepoConfig,
    event_loop_runner: Callable[[Any], Any],
) -> StoreApi:
    """The contract is checked through every API the store serves. ``kit``: ``write_arrow`` and the per-view
    ``online_read`` (what the kit's pipelines, stream sink and serving use). ``feast_api``: Feast's own
    ``FeatureStore.write_to_online_store`` and ``get_online_features(...).to_dict()``, with the kit's provider
    (Arrow ingest) and the store's whole-request read. ``feast_async``: Feast's async path as ``feast serve`` runs
    it, ``write_to_online_store_async`` through Feast's stock provider (so the store's
    ``online_write_batch_async`` gets Feast's protobuf rows) and ``get_online_features_async``, on one event loop."""
    from feast import FeatureStore
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type

    from featurekit.online_store.config import PROVIDER_TYPE

    if request.param == "kit":

        def write_kit(view: FeatureView, table: pa.Table, cfg: RepoConfig | None = None) -> None:
            store.write_arrow(cfg or config, view, table)

        def read_kit(view: FeatureView, ids: list[int], cfg: RepoConfig | None = None) -> list[dict[str, Any] | None]:
            keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]) for i in ids]
            return [
                None if values is None else {k: feast_value_type_to_python_type(v) for k, v in values.items()}
                for _ts, values in store.online_read(cfg or config, view, keys)
            ]

        return StoreApi("kit", write_kit, read_kit)

    stores: dict[int, FeatureStore] = {}
    applied: dict[tuple[int, str], FeatureView] = {}

    is_async = request.param == "feast_async"
    provider, provider_class = ("local", "PassthroughProvider") if is_async else (PROVIDER_TYPE, "FeaturekitProvider")

    def feature_store(view: FeatureView, cfg: RepoConfig | None) -> FeatureStore:
        cfg = cfg or config
        fs = stores.get(id(cfg))
        if fs is None:
            fs = stores[id(cfg)] = FeatureStore(config=cfg.model_copy(update={"provider": provider}))
            assert type(fs._get_provider()).__name__ == provider_class
        if applied.get((id(cfg), view.name)) is not view:
            fs.apply([USER, view])
            applied[(id(cfg), view.name)] = view
        return fs

    def write_feast(view: FeatureView, table: pa.Table, cfg: RepoConfig | None = None) -> None:
        fs = feature_store(view, cfg)
        if is_async:
            event_loop_runner(fs.write_to_online_store_async(view.name, table.to_pandas()))
        else:
            fs.write_to_online_store(view.name, table.to_pandas())

    def read_feast(view: FeatureView, ids: list[int], cfg: RepoConfig | None = None) -> list[dict[str, Any] | None]:
        names = [f.name for f in view.features]
        fs = feature_store(view, cfg)
        features, rows = [f"{view.name}:{n}" for n in names], [{"user_id": i} for i in ids]
        if is_async:
            response = event_loop_runner(fs.get_online_features_async(features, rows))
        else:
            response = fs.get_online_features(features, rows)
        got = response.to_dict(include_event_timestamps=True)
        assert got["user_id"] == list(ids)
        return [{n: got[n][r] for n in names} if got[f"{names[0]}__ts"][r] else None for r in range(len(ids))]

    return StoreApi(request.param, write_feast, read_feast)


@pytest.fixture
def read_values(api: StoreApi) -> Callable[..., list[dict[str, Any] | None]]:
    return api.read


@pytest.fixture
def write_rows(api: StoreApi) -> Callable[..., None]:
    return api.write


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A local 3-primary Redis Cluster from Debian's redis-server. One that cannot start fails the tests (with
    the reason), it never skips them: the cluster client is part of the contract."""
    try:
        cluster = LocalRedisCluster.start()
    except ServiceUnavailableError as exc:
        pytest.fail(f"cannot start a local Redis Cluster: {exc}")
    with cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalRedisCluster) -> str:
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture(params=["standalone", "cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The online-store contract runs against both tier clients (``standalone.py`` and ``cluster.py``)."""
    if request.param == "standalone":
        url = request.getfixturevalue("redis_url")
        client = redis.Redis.from_url(url)
        yield Backend("standalone", url, False, client, [client])
        client.close()
        return
    cluster: LocalRedisCluster = request.getfixturevalue("redis_cluster")
    cluster.flushall()
    client = cluster.client()
    nodes = [redis.Redis(port=server.port) for server in cluster.primaries]
    yield Backend("cluster", cluster.url, True, client, nodes)
    client.close()
    for node in nodes:
        node.close()
