"""``bench online``'s dataset and write phases: the scale presets, the 20-feature / 3-view Feast definitions both
systems get, the source parquet, and the timed materialize and push of stock Feast and of the featurekit store."""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Stopwatch, wait_for_idle

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


def quiet_feast() -> contextlib.ExitStack:
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
    with quiet_feast():
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
    with quiet_feast():
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


def min_idle_wait() -> float:
    """Idle wait before short timed phases: a third of the configured wait."""
    from bench import report

    return report.IDLE_TIMEOUT_S / 3
