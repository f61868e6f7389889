"""``featurekit bench online --feast-api``: stock Feast vs the featurekit store, both only through Feast's own API.

What an ML service or an Airflow job calls: ``FeatureStore.materialize``, ``write_to_online_store``, ``push``,
``get_online_features(...).to_dict()`` and ``feast serve``. Both systems get the same definitions, the same parquet
source and Feast's ``duckdb`` offline store; they differ only in what ``feature_store.yaml`` selects:

* stock: ``provider: local``, ``online_store: {type: redis}``, Feast's ``local`` batch engine;
* featurekit: ``provider`` / ``batch_engine`` = the kit's Feast extensions (``featurekit.online_store.feast_write``)
  and ``online_store`` = ``TieredRedisOnlineStore``, views tagged with their expected entity count
  (``online_expected_entities``), exactly what ``repo/feast_config.py`` generates.

Schema: 20 features of 8 bytes (Float64 and Int64) in views of 7+7+6, each view fed by a parquet file source and
a push source. Memory (Redis ``used_memory`` growth per entity after ``materialize``) is measured at every size
in ``--sizes``; the other phases run at the first size. Results go under the JSON key ``feast_api``.
"""

from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.feast_api_report import ratios, show, targets
from bench.feast_serve import serve_phase
from bench.online_data import quiet_feast, used_memory
from bench.report import (
    BUSY_WARNINGS,
    console,
    machine_info,
    percentiles_ms,
    progress,
    time_interleaved,
    wait_for_idle,
    write_json,
)

PROJECT = "feastapi"
BATCHES = (1, 10, 100, 1000)
VIEWS: dict[str, list[str]] = {
    "fa_profile": [f"p{i}" for i in range(7)],
    "fa_txn": [f"t{i}" for i in range(7)],
    "fa_balance": [f"b{i}" for i in range(6)],
}
REFS = [f"{view}:{f}" for view, feats in VIEWS.items() for f in feats]


def _dtype(feature: str) -> str:
    return "Int64" if int(feature[1:]) % 3 == 0 else "Float64"


@dataclass(frozen=True)
class FeastApiScale:
    name: str
    versions: int
    push_rows: int
    read_iterations: dict[int, int]
    server_seconds: float
    server_sequential: int


# Batch-1 reads get thousands of calls: a p99 over 300 calls is the 3rd-worst call, i.e. whichever call the
# scheduler of a shared machine happened to stall; thousands cost seconds at ~0.1-0.6 ms per call.
QUICK = FeastApiScale("quick", 10, 10_000, {1: 2000, 10: 500, 100: 100, 1000: 25}, 6.0, 300)
FULL = FeastApiScale("full", 10, 30_000, {1: 5000, 10: 1000, 100: 200, 1000: 50}, 8.0, 1000)


def write_dataset(path: Path, entities: int, versions: int, now: datetime) -> int:
    """``entities`` users x ``versions`` rows, 3 days apart, the newest within the last 3 days; µs timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(42)
    n = entities * versions
    users = np.repeat(np.arange(1, entities + 1, dtype=np.int64), versions)
    version = np.tile(np.arange(versions), entities)
    now_us = int(now.timestamp() * 1_000_000)
    ts = now_us - version * 3 * 86_400_000_000 - rng.integers(60_000_000, 3 * 86_400_000_000, n)
    columns: dict[str, Any] = {
        "user_id": pa.array(users),
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
    }
    for feats in VIEWS.values():
        for f in feats:
            if _dtype(f) == "Int64":
                columns[f] = pa.array(rng.integers(0, 1 << 40, n, dtype=np.int64))
            else:
                columns[f] = pa.array(rng.random(n) * 1e6)
    pq.write_table(pa.table(columns), path, row_group_size=250_000)
    return n


def feast_objects(source_path: Path, entities: int) -> list[Any]:
    from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
    from feast.types import Float64, Int64

    types = {"Float64": Float64, "Int64": Int64}
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(source_path), timestamp_field="event_timestamp")
    objects: list[Any] = [user]
    for name, feats in VIEWS.items():
        push = PushSource(name=f"{name}_push", batch_source=source)
        objects += [
            push,
            FeatureView(
                name=name,
                entities=[user],
                ttl=timedelta(days=7),
                schema=[Field(name="user_id", dtype=Int64)] + [Field(name=f, dtype=types[_dtype(f)]) for f in feats],
                source=push,
                tags={"online_expected_entities": str(entities)},
            ),
        ]
    return objects


def write_repo(path: Path, url: str, *, kind: str) -> None:
    """``feature_store.yaml`` for ``kind``: ``stock``, ``featurekit`` or ``floor`` (:mod:`bench.feast_floor`)."""
    import redis
    import yaml

    from bench.feast_floor import STORE_TYPE as FLOOR_TYPE
    from featurekit.online_store.config import ENGINE_TYPE, PROVIDER_TYPE, STORE_TYPE

    path.mkdir(parents=True, exist_ok=True)
    if kind == "featurekit":
        extra: dict[str, Any] = {
            "provider": PROVIDER_TYPE,
            "batch_engine": {"type": ENGINE_TYPE},
            "online_store": {"type": STORE_TYPE, "tiers": {"warm": {"url": url}}, "default_tier": "warm"},
        }
    elif kind == "stock":
        kw = redis.Redis.from_url(url).connection_pool.connection_kwargs
        conn = f"{kw['host']}:{kw['port']},db={kw.get('db', 0)}"
        extra = {"provider": "local", "online_store": {"type": "redis", "connection_string": conn}}
    elif kind == "floor":
        extra = {"provider": "local", "online_store": {"type": FLOOR_TYPE}}
    else:
        raise ValueError(f"unknown repo kind {kind!r}")
    config = {
        "project": PROJECT,
        "registry": {"path": str(path / "registry.db"), "cache_ttl_seconds": 60},
        "offline_store": {"type": "duckdb"},
        "entity_key_serialization_version": 3,
        **extra,
    }
    (path / "feature_store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def stores(workdir: Path, url: str, source: Path, entities: int) -> dict[str, Any]:
    from feast import FeatureStore

    out = {}
    for name in ("stock", "featurekit"):
        repo = workdir / f"{name}-{entities}"
        write_repo(repo, url, kind=name)
        with quiet_feast():
            fs = FeatureStore(repo_path=str(repo))
            fs.apply(feast_objects(source, entities))
        out[name] = fs
    return out


def floor_repo(workdir: Path, url: str, source: Path, entities: int) -> Path:
    """A repository with the same definitions over :mod:`bench.feast_floor` (for ``feast serve`` only)."""
    from feast import FeatureStore

    repo = workdir / f"floor-{entities}"
    write_repo(repo, url, kind="floor")
    with quiet_feast():
        FeatureStore(repo_path=str(repo)).apply(feast_objects(source, entities))
    return repo


def timed(fn: Any) -> float:
    wait_for_idle()
    t0 = time.perf_counter()
    with quiet_feast():
        fn()
    return time.perf_counter() - t0


def materialize_and_measure(fs: Any, client: Any, entities: int, start: datetime, end: datetime) -> dict:
    client.flushall()
    base = used_memory(client)
    seconds = timed(lambda: fs.materialize(start_date=start, end_date=end))
    return {"seconds": seconds, "bytes_per_entity": (used_memory(client) - base) / entities}


def frames(rows: int, now: datetime, shift_s: int) -> dict[str, Any]:
    """Newer rows for the first ``rows`` users, one pandas frame per view (event time now + ``shift_s``)."""
    import pandas as pd

    rng = np.random.default_rng(shift_s)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    out = {}
    for view, feats in VIEWS.items():
        data: dict[str, Any] = {"user_id": ids}
        for f in feats:
            data[f] = rng.integers(0, 1 << 40, rows, dtype=np.int64) if _dtype(f) == "Int64" else rng.random(rows)
        frame = pd.DataFrame(data)
        frame["event_timestamp"] = pd.Timestamp(now) + pd.Timedelta(seconds=shift_s)
        out[view] = frame
    return out


def read_latencies(scale: FeastApiScale, fss: dict[str, Any], entities: int) -> tuple[dict, dict]:
    """p50/p99 of ``get_online_features(REFS, rows).to_dict()`` per batch, stock and featurekit interleaved call by
    call, and the mean CPU-ms per call (``time.process_time``: the load-robust figure on a shared machine)."""
    results: dict[str, Any] = {"stock": {}, "featurekit": {}}
    cpu_ms: dict[str, Any] = {"stock": {}, "featurekit": {}}
    with progress("Feast API reads", sum(scale.read_iterations.values()) * 2) as advance:
        for batch in BATCHES:
            n = scale.read_iterations[batch]
            rng = np.random.default_rng(batch)
            rows = [[{"user_id": int(i)} for i in rng.integers(1, entities + 1, batch)] for _ in range(n + 5)]
            cpu = {"stock": 0.0, "featurekit": 0.0}

            def call(name: str, rows: list = rows, cpu: dict = cpu) -> Any:
                fs = fss[name]

                def read(k: int) -> None:
                    c0 = time.process_time()
                    fs.get_online_features(features=REFS, entity_rows=rows[k]).to_dict()
                    cpu[name] += time.process_time() - c0
                    advance(1)

                return read

            gc.collect()
            gc.freeze()
            wait_for_idle(timeout_s=10)
            series = time_interleaved({"stock": call("stock"), "featurekit": call("featurekit")}, n, warmup=5)
            gc.unfreeze()
            for name, samples in series.items():
                results[name][str(batch)] = percentiles_ms(samples)
                cpu_ms[name][str(batch)] = 1000 * cpu[name] / (n + 5)  # the warm-up calls are counted too
    return results, cpu_ms


def run(
    *,
    quick: bool = False,
    sizes: list[int] | None = None,
    json_path: Path | None = None,
    out_dir: Path | None = None,
    redis_url: str | None = None,
    skip_server: bool = False,
) -> dict[str, Any]:
    """The Feast-API comparison; prints tables and writes ``{"feast_api": ...}`` as JSON; returns the results."""
    import redis

    from featurekit.config import project_root
    from featurekit.services.redis_server import RedisServer

    scale = QUICK if quick else FULL
    sizes = sizes or ([10_000] if quick else [10_000, 100_000, 1_000_000])
    out_dir = out_dir or (json_path.parent if json_path else project_root() / "bench" / "results")
    json_path = json_path or out_dir / f"online-feast-api-{scale.name}.json"
    started = time.time()
    server = None if redis_url else RedisServer.start()
    url = redis_url or server.url  # type: ignore[union-attr]
    workdir = Path(tempfile.mkdtemp(prefix="featurekit-bench-feast-api-"))
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(days=31), now + timedelta(minutes=1)
    try:
        client = redis.Redis.from_url(url)
        main = sizes[0]
        console.print(
            f"[bold]featurekit bench online --feast-api[/] ({scale.name}): sizes {sizes}, {scale.versions} versions "
            f"at {main:,}, 20 8-byte features / 3 views, Redis {url}"
        )
        result: dict[str, Any] = {
            "scale": scale.name,
            "sizes": sizes,
            "machine": machine_info(),
            "redis": client.info("server")["redis_version"],
            "memory": {},
        }
        for size in sizes:
            versions = scale.versions if size == main else 1
            source = workdir / f"source-{size}.parquet"
            with progress(f"dataset {size:,} x {versions}"):
                rows = write_dataset(source, size, versions, now)
            fss = stores(workdir, url, source, size)
            mat: dict[str, Any] = {}
            for name, fs in fss.items():
                with progress(f"{name} materialize {rows:,} rows / {size:,} entities"):
                    mat[name] = materialize_and_measure(fs, client, size, start, end)
                    mat[name]["rows_per_s"] = rows / mat[name]["seconds"]
            result["memory"][str(size)] = {
                "rows": rows,
                "stock_bytes_per_entity": mat["stock"]["bytes_per_entity"],
                "featurekit_bytes_per_entity": mat["featurekit"]["bytes_per_entity"],
                "stock_materialize_s": mat["stock"]["seconds"],
                "featurekit_materialize_s": mat["featurekit"]["seconds"],
            }
            if size != main:
                continue
            result["materialize"] = {"rows": rows, "entities": size, **mat}
            with progress("stock materialize (again, so both layouts serve reads)"), quiet_feast():
                fss["stock"].materialize(start_date=start, end_date=end)
            result["read_ms"], result["read_cpu_ms"] = read_latencies(scale, fss, size)
            write_frames, push_frames = frames(scale.push_rows, now, 1), frames(scale.push_rows, now, 2)
            pushed = scale.push_rows * len(VIEWS)
            for phase, data, call in (
                ("write_to_online_store", write_frames, lambda fs, v, f: fs.write_to_online_store(v, f)),
                ("push", push_frames, lambda fs, v, f: fs.push(f"{v}_push", f)),
            ):
                result[phase] = {"rows": pushed}
                for name, fs in fss.items():
                    with progress(f"{name} {phase} ({pushed:,} rows)"):
                        seconds = timed(lambda fs=fs, data=data, call=call: [call(fs, v, f) for v, f in data.items()])
                    result[phase][name] = {"seconds": seconds, "rows_per_s": pushed / seconds}
            if not skip_server:
                repos = {name: Path(fs.repo_path) for name, fs in fss.items()}
                repos["floor"] = floor_repo(workdir, url, source, size)
                with progress("feast serve: stock, featurekit and the floor"):
                    result["server"] = serve_phase(
                        repos, REFS, size, seconds=scale.server_seconds, sequential=scale.server_sequential
                    )
        result["ratios"] = ratios(result)
        result["targets"] = targets(result["ratios"])
        result["elapsed_s"] = time.time() - started
        result["busy_phases"] = len(BUSY_WARNINGS)
        result["command"] = (
            "featurekit bench online --feast-api"
            + (" --quick" if quick else "")
            + (f" --sizes {','.join(map(str, sizes))}")
        )
        write_json(json_path, {"feast_api": result})
        show(result)
        console.print(f"JSON: {json_path}\nelapsed {result['elapsed_s']:.0f} s")
        return {"feast_api": result}
    finally:
        if server is not None:
            server.stop()
