"""``featurekit bench online``: stock Feast's Redis online store vs the featurekit store, same Redis, one run.

Dataset: ``entities`` users x ``versions`` event times (1M rows / 100k users in full mode), 20 features (15
Float32, 5 Int64) over 3 feature views, one parquet source. Both systems get the same Feast definitions; stock Feast
uses ``online_store: type: redis`` and the ``file`` offline store, featurekit uses its tiered store (``user_balance``
on the hot tier, the rest warm; both tiers on the same server here).

Phases, each run for stock then featurekit on the same redis-server (flushed in between):

* materialize: stock ``FeatureStore.materialize`` vs featurekit's path (DuckDB latest-per-user scan of the same
  parquet + ``write_arrow``); source rows per second.
* memory: Redis ``used_memory`` growth per entity after materialize.
* read: in-process ``get_online_features(...).to_dict()`` for all 20 features at batch 1/10/100/1000, p50/p99, and
  the raw redis-py round trip fetching the same keys (each system's own layout) as the floor.
* push: ``write_to_online_store`` of newer rows for every view vs ``write_arrow`` of the same frames.
* server: ``feast serve -w 1 --max-requests 0`` vs ``featurekit serve --workers 1`` (llhttp + uvloop under the
  kit's protocol, small reads on the event loop: the chosen stack) vs two candidates: the same server with every
  read on its thread pool (``serving.inline_max_entities=0``) and the same ASGI app under ``uvicorn --http httptools
  --loop uvloop``: sequential batch-1 latency, then req/s, p99 and the server's CPU per request with concurrent
  keep-alive clients. The JSON records the chosen stack and the candidates under ``server_stack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import (
    BUSY_WARNINGS,
    BarPanel,
    Stopwatch,
    console,
    machine_info,
    percentiles_ms,
    plot_panels,
    print_table,
    progress,
    ratio,
    time_interleaved,
    wait_for_idle,
    write_json,
)

PROJECT = "bench"
BATCHES = (1, 10, 100, 1000)
CONCURRENCY = 8


@dataclass(frozen=True)
class Scale:
    name: str
    entities: int
    versions: int
    push_rows: int
    read_iterations: dict[int, int]
    server_seconds: float
    server_sequential: int


FULL = Scale("full", 100_000, 10, 100_000, {1: 2000, 10: 1000, 100: 300, 1000: 100}, 10.0, 2000)
QUICK = Scale("quick", 10_000, 10, 10_000, {1: 300, 10: 200, 100: 100, 1000: 25}, 3.0, 300)

# 20 features over 3 views: 15 Float32, 5 Int64 (the stock baseline's mix).
VIEWS: dict[str, list[tuple[str, str]]] = {
    "user_profile": [
        ("age", "Int64"), ("tenure_days", "Int64"), ("credit_limit", "Float32"),
        ("income_est", "Float32"), ("risk_score", "Float32"), ("utilization", "Float32"),
    ],
    "user_txn_30d": [
        ("txn_count_30d", "Int64"), ("txn_sum_30d", "Float32"), ("txn_avg_30d", "Float32"),
        ("txn_max_30d", "Float32"), ("refund_count_30d", "Int64"), ("merchant_count_30d", "Int64"),
        ("intl_share_30d", "Float32"), ("night_share_30d", "Float32"),
    ],
    "user_balance": [
        ("balance", "Float32"), ("available", "Float32"), ("pending", "Float32"),
        ("avg_daily_balance", "Float32"), ("min_balance_7d", "Float32"), ("max_balance_7d", "Float32"),
    ],
}  # fmt: skip
REFS = [f"{view}:{name}" for view, feats in VIEWS.items() for name, _ in feats]


# ---------------------------------------------------------------------------------------------------- dataset


def write_dataset(path: Path, scale: Scale, now: datetime) -> int:
    """The source parquet: every user has ``versions`` rows, 3 days apart, the newest within the last 3 days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(42)
    n = scale.entities * scale.versions
    users = np.repeat(np.arange(1, scale.entities + 1, dtype=np.int64), scale.versions)
    version = np.tile(np.arange(scale.versions), scale.entities)
    now_us = int(now.timestamp() * 1_000_000)
    jitter = rng.integers(60_000_000, 3 * 86_400_000_000, n)  # 1 min .. 3 days
    ts = now_us - version * 3 * 86_400_000_000 - jitter
    columns: dict[str, Any] = {
        "user_id": pa.array(users),
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
    }
    for feats in VIEWS.values():
        for name, dtype in feats:
            if dtype == "Int64":
                columns[name] = pa.array(rng.integers(0, 100_000, n, dtype=np.int64))
            else:
                columns[name] = pa.array((rng.random(n) * 1000).astype(np.float32))
    pq.write_table(pa.table(columns), path, row_group_size=250_000)
    return n


def bucket_bits_for(entities: int, per_bucket: int = 24) -> int:
    """Bucket bits sized as docs/online-store.md recommends: about ``per_bucket`` entities per Redis hash."""
    import math

    return max(4, round(math.log2(max(1, entities) / per_bucket)))


def feast_objects(source_path: Path) -> list[Any]:
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float32, Int64

    types = {"Float32": Float32, "Int64": Int64}
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(source_path), timestamp_field="event_timestamp")
    views = [
        FeatureView(
            name=name,
            entities=[user],
            ttl=timedelta(days=7),
            schema=[Field(name="user_id", dtype=Int64)] + [Field(name=f, dtype=types[t]) for f, t in feats],
            source=source,
            tags={"tier": "hot" if name == "user_balance" else "warm"},
        )
        for name, feats in VIEWS.items()
    ]
    return [user, *views]


def write_repo(path: Path, online_store: dict[str, Any]) -> None:
    import yaml

    path.mkdir(parents=True, exist_ok=True)
    config = {
        "project": PROJECT,
        "provider": "local",
        "registry": {"path": str(path / "registry.db"), "cache_ttl_seconds": 60},
        "online_store": online_store,
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }
    (path / "feature_store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


# ---------------------------------------------------------------------------------------------------- phases


def _quiet() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def used_memory(client: Any) -> int:
    time.sleep(0.3)
    return int(client.info("memory")["used_memory"])


def materialize_stock(fs: Any, start: datetime, end: datetime) -> float:
    wait_for_idle()
    t0 = time.perf_counter()
    with _quiet():
        fs.materialize(start_date=start, end_date=end)
    return time.perf_counter() - t0


def materialize_featurekit(
    fs: Any,
    source: Path,
    start: datetime,
    end: datetime,
    watch: Stopwatch,
    *,
    wait_idle: bool = True,
    threads: int | None = None,
) -> float:
    """Featurekit's materialization: DuckDB finds the newest row per user and streams record batches from a
    background thread while the main thread writes them with ``write_arrow`` (DuckDB runs outside the GIL and
    Redis on its own core, so reading and writing overlap). ``wait_idle=False``: start at once (the load of the
    ``during_load`` phase, which is meant to run beside reads). ``threads``: DuckDB's thread count (default: one per
    core), set to match a load pinned to fewer cores."""
    import queue
    import threading

    import pyarrow as pa

    from featurekit import duckdb_utc

    store = fs._get_provider().online_store
    views = {v.name: v for v in fs.list_feature_views()}
    columns = ", ".join(
        f"t.{c}" for c in ["user_id", "event_timestamp", *[f for fs_ in VIEWS.values() for f, _ in fs_]]
    )
    # Newest row per user: hash aggregate of max(event time), then a hash join back to the rows (ties keep
    # several rows; newer-wins keeps one per user). Measured faster here than a row_number() window.
    query = (
        f"SELECT {columns} FROM read_parquet($src) t JOIN ("
        "SELECT user_id, max(event_timestamp) AS newest FROM read_parquet($src) "
        "WHERE event_timestamp >= $start AND event_timestamp < $end GROUP BY user_id) latest "
        "ON t.user_id = latest.user_id AND t.event_timestamp = latest.newest"
    )
    batches: queue.Queue[Any] = queue.Queue(maxsize=4)

    def produce() -> None:
        try:
            con = duckdb_utc.connect()
            if threads is not None:
                con.execute(f"SET threads = {int(threads)}")
            reader = con.sql(query, params={"src": str(source), "start": start, "end": end}).to_arrow_reader(50_000)
            for batch in reader:
                batches.put(batch)
            con.close()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            batches.put(exc)
        finally:
            batches.put(None)

    if wait_idle:
        wait_for_idle()
    t0 = time.perf_counter()
    producer = threading.Thread(target=produce, name="duckdb-latest", daemon=True)
    producer.start()
    while True:
        with watch.phase("waiting_for_duckdb"):
            item = batches.get()
        if item is None:
            break
        if isinstance(item, BaseException):
            raise item
        table = pa.Table.from_batches([item])
        with watch.phase("write_arrow"):
            for name, feats in VIEWS.items():
                cols = ["user_id", "event_timestamp", *[f for f, _ in feats]]
                store.write_arrow(fs.config, views[name], table.select(cols))
    producer.join()
    return time.perf_counter() - t0


def push_frames(scale: Scale, now: datetime) -> dict[str, Any]:
    """Newer rows for the first ``push_rows`` users, one pandas frame per view (what a push/stream sink gets)."""
    import pandas as pd

    rng = np.random.default_rng(7)
    ids = np.arange(1, scale.push_rows + 1, dtype=np.int64)
    frames = {}
    for view, feats in VIEWS.items():
        data: dict[str, Any] = {"user_id": ids, "event_timestamp": pd.Timestamp(now) + pd.Timedelta(seconds=1)}
        for name, dtype in feats:
            data[name] = (
                rng.integers(0, 100_000, len(ids), dtype=np.int64)
                if dtype == "Int64"
                else (rng.random(len(ids)) * 1000).astype(np.float32)
            )
        frame = pd.DataFrame(data)
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        frames[view] = frame
    return frames


def push_stock(fs: Any, frames: dict[str, Any]) -> float:
    wait_for_idle()
    t0 = time.perf_counter()
    with _quiet():
        for view, frame in frames.items():
            fs.write_to_online_store(view, frame)
    return time.perf_counter() - t0


def push_featurekit(fs: Any, frames: dict[str, Any]) -> float:
    import pyarrow as pa

    store = fs._get_provider().online_store
    views = {v.name: v for v in fs.list_feature_views()}
    wait_for_idle()
    t0 = time.perf_counter()
    for view, frame in frames.items():
        store.write_arrow(fs.config, views[view], pa.Table.from_pandas(frame, preserve_index=False))
    return time.perf_counter() - t0


def batches_of_ids(scale: Scale, batch: int, count: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, scale.entities + 1, batch).tolist() for _ in range(count)]


def stock_floor_commands(fs: Any, ids: list[int]) -> list[tuple[bytes, list[Any]]]:
    """Stock layout: one hash per entity; the same fields Feast's HMGET asks for (20 features + 3 timestamps)."""
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    fields: list[Any] = []
    for view, feats in VIEWS.items():
        fields += [_mmh3(f"{view}:{f}") for f, _ in feats] + [f"_ts:{view}"]
    out = []
    for i in ids:
        key = _redis_key(
            PROJECT,
            EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)]),
            entity_key_serialization_version=3,
        )
        out.append((key, fields))
    return out


def featurekit_keyspaces(fs: Any) -> list[Any]:
    store = fs._get_provider().online_store
    return [store.compiled(fs.config, view).keyspace for view in fs.list_feature_views()]


def featurekit_floor_commands(keyspaces: list[Any], ids: list[int]) -> list[tuple[bytes, bytes]]:
    """Featurekit layout: one HGET (bucket, entity field) per view and entity, exactly what the reader sends."""
    out = []
    for ks in keyspaces:
        for i in ids:
            field, bucket = ks.encode_values([i])
            out.append((ks.bucket_key(bucket), field))
    return out


def read_latencies(scale: Scale, fs: Any, fk_fs: Any, reader: Any, client: Any) -> dict[str, Any]:
    """p50/p99 per batch size for stock, featurekit and each layout's raw redis-py floor."""
    results: dict[str, Any] = {"stock": {}, "featurekit": {}, "floor_stock": {}, "floor_featurekit": {}}
    total = sum(scale.read_iterations.values()) * 4
    keyspaces = featurekit_keyspaces(fk_fs)
    with progress("in-process reads", total) as advance:
        for batch in BATCHES:
            n = scale.read_iterations[batch]
            id_batches = batches_of_ids(scale, batch, n + 5, seed=batch)
            rows = [[{"user_id": i} for i in b] for b in id_batches]
            stock_cmds = [stock_floor_commands(fs, b) for b in id_batches]
            fk_cmds = [featurekit_floor_commands(keyspaces, b) for b in id_batches]

            def stock_read(i: int, rows: list = rows) -> None:
                fs.get_online_features(features=REFS, entity_rows=rows[i]).to_dict()
                advance(1)

            def fk_read(i: int, rows: list = rows) -> None:
                reader.get_online_features(REFS, rows[i]).to_dict()
                advance(1)

            def stock_floor(i: int, cmds: list = stock_cmds) -> None:
                pipe = client.pipeline(transaction=False)
                for key, fields in cmds[i]:
                    pipe.hmget(key, fields)
                pipe.execute()
                advance(1)

            def fk_floor(i: int, cmds: list = fk_cmds) -> None:
                pipe = client.pipeline(transaction=False)
                for key, field in cmds[i]:
                    pipe.hget(key, field)
                pipe.execute()
                advance(1)

            gc.collect()
            gc.freeze()  # long-lived bench objects out of the collector's way, equally for every series
            # Each system is timed call by call alternating with its own raw floor, so both see the same noise.
            wait_for_idle(timeout_s=min_idle_wait())
            series = time_interleaved({"stock": stock_read, "floor_stock": stock_floor}, n)
            wait_for_idle(timeout_s=min_idle_wait())
            series |= time_interleaved({"featurekit": fk_read, "floor_featurekit": fk_floor}, n)
            for name, samples in series.items():
                results[name][str(batch)] = percentiles_ms(samples)
            gc.unfreeze()
    return results


# ---------------------------------------------------------------------------------------------------- server


def min_idle_wait() -> float:
    """Idle wait before short timed phases: a third of the configured wait."""
    from bench import report

    return report.IDLE_TIMEOUT_S / 3


def _free_port() -> int:
    from featurekit.services.ports import free_port

    return free_port()


def asgi_entry_point(repo: Path) -> str:
    """A uvicorn factory serving the bare Feast ``repo`` with the kit's handler (``app_for(repo=...)``), written as
    ``bench_asgi.py`` into ``repo``; returns its ``module:function`` for ``uvicorn --factory --app-dir repo``."""
    (repo / "bench_asgi.py").write_text(
        "from pathlib import Path\n\nfrom featurekit.serving.wiring import app_for\n\n\n"
        f"def app():\n    return app_for(repo=Path({str(repo)!r}))\n"
    )
    return "bench_asgi:app"


def start_server(command: list[str], port: int, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(cwd / f"server-{port}.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}: {(cwd / f'server-{port}.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not become healthy: {command}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def request_bytes(ids: list[int]) -> bytes:
    import orjson

    body = orjson.dumps({"features": REFS, "entities": {"user_id": ids}, "full_feature_names": False})
    head = (
        f"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def _client(
    port: int,
    requests: list[bytes],
    offset: int,
    stop_at: float,
    limit: int | None,
    latencies: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    perf = time.perf_counter
    i = offset
    done = 0
    try:
        while perf() < stop_at and (limit is None or done < limit):
            payload = requests[i % len(requests)]
            i += 1
            t0 = perf()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            latencies.append(perf() - t0)
            done += 1
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head[:40].decode(errors="replace") + body[:200].decode(errors="replace"))
    finally:
        writer.close()


def load(port: int, requests: list[bytes], *, clients: int, seconds: float, limit: int | None = None) -> dict:
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        stop_at = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *[_client(port, requests, c * 7919, stop_at, limit, latencies, errors) for c in range(clients)]
        )
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "latency_ms": percentiles_ms(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def pool_only_environment(workdir: Path) -> Path:
    """The local environment with ``serving.inline_max_entities: 0`` (every read on the thread pool), written as an
    environment file of its own: the candidate differs from the kit's server in that one setting and nothing else."""
    import yaml

    from featurekit.config.loader import environment_file, project_root

    raw = yaml.safe_load(environment_file("local", project_root()).read_text())
    raw["serving"]["inline_max_entities"] = 0
    path = workdir / "pool-only" / "local.yaml"  # same stem: the environment is still called "local"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def server_phase(scale: Scale, name: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    port = _free_port()
    proc = start_server([*command, "-p" if name == "stock" else "--port", str(port)], port, cwd, env)
    try:
        requests = [request_bytes(b) for b in batches_of_ids(scale, 1, 5000, seed=11)]
        load(port, requests, clients=1, seconds=2.0, limit=200)  # warm-up (connections, plans, caches)
        wait_for_idle()  # the sequential tail latency is the most load-sensitive number: wait the longest
        sequential = load(port, requests, clients=1, seconds=60.0, limit=scale.server_sequential)
        wait_for_idle(timeout_s=min_idle_wait())
        cpu_before = server_cpu_s(proc.pid)
        concurrent = load(port, requests, clients=CONCURRENCY, seconds=scale.server_seconds)
        concurrent["server_cpu_ms_per_request"] = (server_cpu_s(proc.pid) - cpu_before) * 1000 / concurrent["requests"]
        return {"sequential_b1": sequential, "concurrent_b1": concurrent}
    finally:
        stop_server(proc)


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a server process and its children (stock's gunicorn worker).

    Per request, this is the figure a loaded machine disturbs least: req/s drops when other processes take the
    CPUs, CPU per request much less; it is what bounds a worker's req/s once it has a core to itself."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# ---------------------------------------------------------------------------------------------------- run


def run(
    *,
    quick: bool = False,
    json_path: Path | None = None,
    out_dir: Path | None = None,
    redis_url: str | None = None,
    skip_server: bool = False,
    scale: Scale | None = None,
) -> dict[str, Any]:
    """Run the whole comparison; prints a table, writes JSON and a PNG chart; returns the results."""
    import redis
    from feast import FeatureStore

    from featurekit.config import project_root
    from featurekit.services.redis_server import RedisServer
    from featurekit.serving import OnlineFeatureReader

    scale = scale or (QUICK if quick else FULL)
    out_dir = out_dir or (json_path.parent if json_path else project_root() / "bench" / "results")
    json_path = json_path or out_dir / f"online-{scale.name}.json"
    started = time.time()
    server = None if redis_url else RedisServer.start()
    url = redis_url or server.url  # type: ignore[union-attr]
    workdir = Path(tempfile.mkdtemp(prefix="featurekit-bench-online-"))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        client = redis.Redis.from_url(url)
        host, port = client.connection_pool.connection_kwargs["host"], client.connection_pool.connection_kwargs["port"]
        db = client.connection_pool.connection_kwargs.get("db", 0)
        console.print(
            f"[bold]featurekit bench online[/] ({scale.name}): {scale.entities:,} users x {scale.versions} "
            f"versions, 20 features / 3 views, Redis {url}"
        )
        source = workdir / "source.parquet"
        with progress("writing dataset"):
            rows = write_dataset(source, scale, now)
        stock_dir, fk_dir = workdir / "stock", workdir / "featurekit"
        write_repo(stock_dir, {"type": "redis", "connection_string": f"{host}:{port},db={db}"})
        tier = {"url": url}
        write_repo(
            fk_dir,
            {
                "type": "featurekit.online_store.store.TieredRedisOnlineStore",
                "tiers": {"hot": tier, "warm": tier},
                "default_tier": "warm",
                "bucket_bits": bucket_bits_for(scale.entities),
            },
        )
        objects = feast_objects(source)
        with _quiet():
            stock_fs = FeatureStore(repo_path=str(stock_dir))
            stock_fs.apply(objects)
            fk_fs = FeatureStore(repo_path=str(fk_dir))
            fk_fs.apply(objects)
        start, end = now - timedelta(days=31), now + timedelta(minutes=1)
        results: dict[str, Any] = {
            "scale": scale.name,
            "rows": rows,
            "entities": scale.entities,
            "features": 20,
            "views": 3,
            "machine": machine_info(),
            "redis": client.info("server")["redis_version"],
        }

        # --- stock Feast
        client.flushall()
        base = used_memory(client)
        with progress(f"stock materialize ({rows:,} rows)"):
            stock_mat = materialize_stock(stock_fs, start, end)
        stock_bytes = (used_memory(client) - base) / scale.entities
        # --- featurekit
        reader = OnlineFeatureReader.from_feature_store(fk_fs)
        client.flushall()
        base = used_memory(client)
        watch = Stopwatch()
        with progress(f"featurekit materialize ({rows:,} rows)"):
            fk_mat = materialize_featurekit(fk_fs, source, start, end, watch)
        fk_bytes = (used_memory(client) - base) / scale.entities
        # Both layouts live side by side from here on (different keys), so reads hit warm data for both.
        with progress("stock materialize (again, for reads)"), _quiet():
            stock_fs.materialize(start_date=start, end_date=end)

        reads = read_latencies(scale, stock_fs, fk_fs, reader, client)
        # Reads while a full materialization of the same views runs (bench/during_load.py); before the push phase,
        # whose newer rows its load does not overwrite.
        from bench.during_load import run_phase
        from bench.during_load import show as show_during_load

        with progress("during_load: reads while a full materialization runs"):
            results["during_load"] = run_phase(scale, reader, REFS, fk_dir, workdir, now, start, end, url)

        frames = push_frames(scale, now)
        push_rows = scale.push_rows * len(VIEWS)
        with progress(f"stock push ({push_rows:,} rows)"):
            stock_push = push_stock(stock_fs, frames)
        with progress(f"featurekit push ({push_rows:,} rows)"):
            fk_push = push_featurekit(fk_fs, frames)

        server_results: dict[str, Any] = {}
        if not skip_server:
            feast_bin = str(Path(sys.executable).with_name("feast"))
            with progress("stock feast serve"):
                server_results["stock"] = server_phase(
                    scale,
                    "stock",
                    [feast_bin, "serve", "-h", "127.0.0.1", "-w", "1", "--max-requests", "0", "--no-access-log"],
                    stock_dir,
                )
            fk_command = [
                *(sys.executable, "-m", "featurekit.cli.main", "serve", "--repo", str(fk_dir)),
                *("--host", "127.0.0.1", "--workers", "1"),
            ]
            with progress("featurekit serve"):
                server_results["featurekit"] = server_phase(
                    scale, "featurekit", fk_command, fk_dir, env={"FEATUREKIT_SERVING_TOKEN": ""}
                )
            with progress("candidate: featurekit serve, every read on the thread pool"):
                server_results["featurekit_pool_only"] = server_phase(
                    scale,
                    "featurekit",
                    [*fk_command, "--env", str(pool_only_environment(workdir))],
                    fk_dir,
                    env={"FEATUREKIT_SERVING_TOKEN": ""},
                )
            with progress("candidate: uvicorn + httptools, same ASGI app"):
                server_results["uvicorn_httptools"] = server_phase(
                    scale,
                    "uvicorn_httptools",
                    [
                        *(sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(fk_dir)),
                        asgi_entry_point(fk_dir),
                        *("--http", "httptools", "--loop", "uvloop", "--workers", "1", "--no-access-log"),
                        *("--host", "127.0.0.1", "--log-level", "warning"),
                    ],
                    fk_dir,
                    env={"FEATUREKIT_SERVING_TOKEN": ""},
                )
            results["server_stack"] = server_stack()
        reader.close()

        results.update(
            {
                "materialize": {
                    "stock": {
                        "seconds": stock_mat,
                        "rows_per_s": rows / stock_mat,
                        "entities_per_s": scale.entities / stock_mat,
                    },
                    "featurekit": {
                        "seconds": fk_mat,
                        "rows_per_s": rows / fk_mat,
                        "entities_per_s": scale.entities / fk_mat,
                        "phases_s": watch.phases,
                    },
                },
                "push": {
                    "rows": push_rows,
                    "stock": {"seconds": stock_push, "rows_per_s": push_rows / stock_push},
                    "featurekit": {"seconds": fk_push, "rows_per_s": push_rows / fk_push},
                },
                "memory": {"stock_bytes_per_entity": stock_bytes, "featurekit_bytes_per_entity": fk_bytes},
                "read_ms": reads,
                "server": server_results,
            }
        )
        results["ratios"] = ratios(results)
        results["targets"] = targets(results["ratios"]) | results["during_load"]["targets"]
        results["elapsed_s"] = time.time() - started
        results["busy_phases"] = len(BUSY_WARNINGS)
        results["command"] = "featurekit bench online" + (" --quick" if scale.name == "quick" else "")
        write_json(json_path, results)
        png = json_path.with_suffix(".png")
        chart(results, png)
        show(results)
        show_during_load(results["during_load"])
        console.print(f"JSON: {json_path}\nPNG:  {png}\nelapsed {results['elapsed_s']:.0f} s")
        return results
    finally:
        if server is not None:
            server.stop()


def server_stack() -> dict[str, Any]:
    """What ``featurekit serve`` runs and what it was measured against (versions from the environment)."""
    from importlib.metadata import version

    return {
        "chosen": "featurekit",
        "featurekit": f"featurekit serve: llhttp via httptools {version('httptools')}, uvloop {version('uvloop')}, "
        "asyncio protocol (featurekit.serving.http); reads of up to serving.inline_max_entities rows answered on the "
        "event loop (asyncio Redis read), larger ones on a bounded thread pool",
        "candidates": {
            "featurekit_pool_only": "featurekit serve with serving.inline_max_entities=0: every read on the bounded "
            "thread pool (the stack before small reads moved to the event loop)",
            "uvicorn_httptools": f"uvicorn {version('uvicorn')} --http httptools --loop uvloop, same ASGI app "
            "(featurekit.serving.wiring:app_for)",
            "stock": f"feast {version('feast')} serve -w 1 (gunicorn + uvicorn workers, FastAPI)",
        },
    }


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """The headline ratios under stable keys (what the issue's targets are checked against)."""
    reads = r["read_ms"]
    out: dict[str, Any] = {
        "materialize_speedup": ratio(
            r["materialize"]["featurekit"]["rows_per_s"], r["materialize"]["stock"]["rows_per_s"]
        ),
        "push_speedup": ratio(r["push"]["featurekit"]["rows_per_s"], r["push"]["stock"]["rows_per_s"]),
        "memory_ratio": ratio(r["memory"]["featurekit_bytes_per_entity"], r["memory"]["stock_bytes_per_entity"]),
        "read_p99_over_floor": {
            b: ratio(reads["featurekit"][b]["p99"], reads["floor_featurekit"][b]["p99"]) for b in reads["featurekit"]
        },
        "read_p99_speedup_vs_stock": {
            b: ratio(reads["stock"][b]["p99"], reads["featurekit"][b]["p99"]) for b in reads["featurekit"]
        },
        "stock_read_p99_over_floor": {
            b: ratio(reads["stock"][b]["p99"], reads["floor_stock"][b]["p99"]) for b in reads["stock"]
        },
    }
    server = r.get("server") or {}
    if server:
        out["server_speedup"] = ratio(
            server["featurekit"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
        )
        out["server_p99_b1_ms"] = server["featurekit"]["sequential_b1"]["latency_ms"]["p99"]
        out["server_cpu_per_request_stock_over_featurekit"] = ratio(
            server["stock"]["concurrent_b1"]["server_cpu_ms_per_request"],
            server["featurekit"]["concurrent_b1"]["server_cpu_ms_per_request"],
        )
        if "featurekit_pool_only" in server:
            out["candidate_pool_only_speedup"] = ratio(
                server["featurekit_pool_only"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
            )
            out["candidate_pool_only_p99_b1_ms"] = server["featurekit_pool_only"]["sequential_b1"]["latency_ms"]["p99"]
        if "uvicorn_httptools" in server:
            out["candidate_uvicorn_speedup"] = ratio(
                server["uvicorn_httptools"]["concurrent_b1"]["rps"], server["stock"]["concurrent_b1"]["rps"]
            )
            out["candidate_uvicorn_p99_b1_ms"] = server["uvicorn_httptools"]["sequential_b1"]["latency_ms"]["p99"]
    return out


def targets(ratios_: dict[str, Any]) -> dict[str, bool]:
    """Pass/fail of each target from the issue."""
    out = {
        "materialize_speedup>=20": ratios_["materialize_speedup"] >= 20,
        "push_speedup>=20": ratios_["push_speedup"] >= 20,
        "memory_ratio<=0.5": ratios_["memory_ratio"] <= 0.5,
        "read_p99_over_floor<=1.5": all(v <= 1.5 for v in ratios_["read_p99_over_floor"].values()),
    }
    if "server_speedup" in ratios_:
        out["server_speedup>=5"] = ratios_["server_speedup"] >= 5
        out["server_p99_b1_ms<=1.5"] = ratios_["server_p99_b1_ms"] <= 1.5
    return out


def show(r: dict[str, Any]) -> None:
    q = r["ratios"]
    rows = [
        (
            "materialize rows/s",
            r["materialize"]["stock"]["rows_per_s"],
            r["materialize"]["featurekit"]["rows_per_s"],
            q["materialize_speedup"],
        ),
        ("push rows/s", r["push"]["stock"]["rows_per_s"], r["push"]["featurekit"]["rows_per_s"], q["push_speedup"]),
        (
            "Redis bytes/entity",
            r["memory"]["stock_bytes_per_entity"],
            r["memory"]["featurekit_bytes_per_entity"],
            q["memory_ratio"],
        ),
    ]
    reads = r["read_ms"]
    for b in reads["stock"]:
        rows.append(
            (
                f"read b{b} p50 ms",
                reads["stock"][b]["p50"],
                reads["featurekit"][b]["p50"],
                ratio(reads["featurekit"][b]["p50"], reads["stock"][b]["p50"]),
            )
        )
        rows.append(
            (
                f"read b{b} p99 ms",
                reads["stock"][b]["p99"],
                reads["featurekit"][b]["p99"],
                ratio(reads["featurekit"][b]["p99"], reads["stock"][b]["p99"]),
            )
        )
    server = r.get("server") or {}
    if server:
        s, f = server["stock"], server["featurekit"]
        rows.append(
            (
                f"server req/s ({CONCURRENCY} clients)",
                s["concurrent_b1"]["rps"],
                f["concurrent_b1"]["rps"],
                q["server_speedup"],
            )
        )
        rows.append(
            (
                "server p99 ms (concurrent)",
                s["concurrent_b1"]["latency_ms"]["p99"],
                f["concurrent_b1"]["latency_ms"]["p99"],
                float("nan"),
            )
        )
        rows.append(
            (
                "server CPU ms per request (8 clients)",
                s["concurrent_b1"]["server_cpu_ms_per_request"],
                f["concurrent_b1"]["server_cpu_ms_per_request"],
                q["server_cpu_per_request_stock_over_featurekit"],
            )
        )
        rows.append(
            (
                "server p99 ms (sequential b1)",
                s["sequential_b1"]["latency_ms"]["p99"],
                f["sequential_b1"]["latency_ms"]["p99"],
                float("nan"),
            )
        )
        pool_only = server.get("featurekit_pool_only")
        if pool_only:
            rows.append(
                (
                    f"candidate every read on the pool req/s ({CONCURRENCY} clients)",
                    s["concurrent_b1"]["rps"],
                    pool_only["concurrent_b1"]["rps"],
                    q["candidate_pool_only_speedup"],
                )
            )
            rows.append(
                (
                    "candidate every read on the pool CPU ms per request",
                    s["concurrent_b1"]["server_cpu_ms_per_request"],
                    pool_only["concurrent_b1"]["server_cpu_ms_per_request"],
                    ratio(
                        s["concurrent_b1"]["server_cpu_ms_per_request"],
                        pool_only["concurrent_b1"]["server_cpu_ms_per_request"],
                    ),
                )
            )
        candidate = server.get("uvicorn_httptools")
        if candidate:
            rows.append(
                (
                    f"candidate uvicorn+httptools req/s ({CONCURRENCY} clients)",
                    s["concurrent_b1"]["rps"],
                    candidate["concurrent_b1"]["rps"],
                    q["candidate_uvicorn_speedup"],
                )
            )
            rows.append(
                (
                    "candidate uvicorn+httptools p99 ms (sequential b1)",
                    s["sequential_b1"]["latency_ms"]["p99"],
                    candidate["sequential_b1"]["latency_ms"]["p99"],
                    float("nan"),
                )
            )
    print_table(
        f"online store: stock Feast vs featurekit ({r['scale']})", ["metric", "stock", "featurekit", "ratio"], rows
    )
    floor_rows = [
        (
            f"b{b}",
            reads["floor_featurekit"][b]["p99"],
            reads["featurekit"][b]["p99"],
            q["read_p99_over_floor"][b],
            reads["floor_stock"][b]["p99"],
            reads["stock"][b]["p99"],
            q["stock_read_p99_over_floor"][b],
        )
        for b in reads["featurekit"]
    ]
    print_table(
        "read p99 vs raw redis-py floor (ms)",
        ["batch", "fk floor", "featurekit", "fk/floor", "stock floor", "stock", "stock/floor"],
        floor_rows,
    )
    print_table("targets", ["target", "met"], [(k, "yes" if v else "NO") for k, v in r["targets"].items()])


def chart(r: dict[str, Any], path: Path) -> None:
    reads = r["read_ms"]
    batches = list(reads["stock"])
    panels = [
        BarPanel(
            "write throughput (rows/s)",
            ["materialize", "push"],
            {
                "stock": [r["materialize"]["stock"]["rows_per_s"], r["push"]["stock"]["rows_per_s"]],
                "featurekit": [r["materialize"]["featurekit"]["rows_per_s"], r["push"]["featurekit"]["rows_per_s"]],
            },
            log=True,
        ),
        BarPanel(
            "Redis bytes per entity",
            ["memory"],
            {
                "stock": [r["memory"]["stock_bytes_per_entity"]],
                "featurekit": [r["memory"]["featurekit_bytes_per_entity"]],
            },
        ),
        BarPanel(
            "get_online_features p99 (ms)",
            [f"b{b}" for b in batches],
            {
                "stock": [reads["stock"][b]["p99"] for b in batches],
                "featurekit": [reads["featurekit"][b]["p99"] for b in batches],
                "redis-py floor (fk keys)": [reads["floor_featurekit"][b]["p99"] for b in batches],
            },
            log=True,
        ),
    ]
    if r.get("server"):
        s, f = r["server"]["stock"], r["server"]["featurekit"]
        panels.append(
            BarPanel(
                f"feature server req/s ({CONCURRENCY} clients, b1)",
                ["req/s"],
                {
                    "stock feast serve": [s["concurrent_b1"]["rps"]],
                    "featurekit serve": [f["concurrent_b1"]["rps"]],
                    **(
                        {"every read on the pool": [r["server"]["featurekit_pool_only"]["concurrent_b1"]["rps"]]}
                        if "featurekit_pool_only" in r["server"]
                        else {}
                    ),
                    **(
                        {"uvicorn+httptools (same app)": [r["server"]["uvicorn_httptools"]["concurrent_b1"]["rps"]]}
                        if "uvicorn_httptools" in r["server"]
                        else {}
                    ),
                },
            )
        )
    plot_panels(path, f"featurekit bench online ({r['scale']}: {r['entities']:,} entities, {r['rows']:,} rows)", panels)
