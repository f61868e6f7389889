"""Fixtures for online-store contract tests: a Feast RepoConfig over the real test Redis, test feature views,
and (when Debian's redis-server can start one) a local 3-node Redis Cluster."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
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
from featurekit.services.ports import free_port, wait_for_port
from support.online_store_views import USER, repo_config


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def config(tmp_path: Path, redis_url: str) -> RepoConfig:
    return repo_config(tmp_path, redis_url)


@pytest.fixture
def store() -> Iterator[TieredRedisOnlineStore]:
    s = TieredRedisOnlineStore()
    yield s
    s.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@dataclass
class StoreApi:
    """One way of writing and reading the store: ``write(view, table)`` and ``read(view, ids) -> [values | None]``
    (plain Python values per entity, ``None`` = not found)."""

    name: str
    write: Callable[..., Any]
    read: Callable[..., list[dict[str, Any] | None]]


@pytest.fixture(params=["kit", "feast_api"])
def api(request: pytest.FixtureRequest, store: TieredRedisOnlineStore, config: RepoConfig) -> StoreApi:
    """The contract is checked through both APIs the store serves. ``kit``: ``write_arrow`` and the per-view
    ``online_read`` (what the kit's pipelines, stream sink and serving use). ``feast_api``: Feast's own
    ``FeatureStore.write_to_online_store`` and ``get_online_features(...).to_dict()``, with the kit's provider
    (Arrow ingest) and the store's whole-request read."""
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

    def feature_store(view: FeatureView, cfg: RepoConfig | None) -> FeatureStore:
        cfg = cfg or config
        fs = stores.get(id(cfg))
        if fs is None:
            fs = stores[id(cfg)] = FeatureStore(config=cfg.model_copy(update={"provider": PROVIDER_TYPE}))
            assert type(fs._get_provider()).__name__ == "FeaturekitProvider"
        if applied.get((id(cfg), view.name)) is not view:
            fs.apply([USER, view])
            applied[(id(cfg), view.name)] = view
        return fs

    def write_feast(view: FeatureView, table: pa.Table, cfg: RepoConfig | None = None) -> None:
        feature_store(view, cfg).write_to_online_store(view.name, table.to_pandas())

    def read_feast(view: FeatureView, ids: list[int], cfg: RepoConfig | None = None) -> list[dict[str, Any] | None]:
        names = [f.name for f in view.features]
        got = (
            feature_store(view, cfg)
            .get_online_features([f"{view.name}:{n}" for n in names], [{"user_id": i} for i in ids])
            .to_dict(include_event_timestamps=True)
        )
        assert got["user_id"] == list(ids)
        return [{n: got[n][r] for n in names} if got[f"{names[0]}__ts"][r] else None for r in range(len(ids))]

    return StoreApi("feast_api", write_feast, read_feast)


@pytest.fixture
def read_values(api: StoreApi) -> Callable[..., list[dict[str, Any] | None]]:
    return api.read


@pytest.fixture
def write_rows(api: StoreApi) -> Callable[..., None]:
    return api.write


def _cluster_unavailable_reason() -> str | None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server/redis-cli not installed"
    return None


def _cluster_port(exclude: list[int]) -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    import socket

    for _ in range(200):
        port = free_port()
        if port + 10_000 > 65_535 or port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    pytest.skip("no free port pair (port, port + 10000) for a Redis Cluster node")


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """A 3-master Redis Cluster from Debian's redis-server (skips with the real reason if it cannot start)."""
    reason = _cluster_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="featurekit-cluster-"))
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for _ in range(3):
            port = _cluster_port(exclude=ports)
            node_dir = workdir / str(port)
            node_dir.mkdir()
            log = open(node_dir / "redis.log", "wb")  # noqa: SIM115 - owned by the server process
            procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        "--cluster-node-timeout",
                        "5000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(node_dir),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            ports.append(port)
        for port in ports:
            if not wait_for_port("127.0.0.1", port, 10):
                log = (workdir / str(port) / "redis.log").read_text(errors="replace")[-400:]
                pytest.skip(f"cluster node on port {port} did not start: {log}")
        create = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{p}" for p in ports],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if create.returncode != 0:
            pytest.skip(f"redis-cli --cluster create failed: {create.stdout[-500:]} {create.stderr[-500:]}")
        client = redis.Redis(port=ports[0])
        deadline = time.monotonic() + 20
        while client.cluster("info").get("cluster_state") != "ok":
            if time.monotonic() > deadline:
                pytest.skip("Redis Cluster did not reach cluster_state:ok within 20 s")
            time.sleep(0.2)
        client.close()
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
