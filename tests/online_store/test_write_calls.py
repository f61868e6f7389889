"""Write calls sliced from one packed chunk (``writer.batches``): a write split into calls of any size leaves Redis
exactly as one call does, and newer-wins holds across call boundaries, including boundaries inside a bucket."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from feast import FeatureView, Field, RepoConfig
from feast.types import Float32, Int64

from featurekit.online_store.config import STORE_TYPE
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.online_store.writer import MAX_BATCH_ROWS, batches, call_bounds, prepare
from support.online_store_views import SOURCE, USER, user_rows, user_view

FIXED = FeatureView(  # fixed-width rows and an integer key: the one-byte-block fast path
    name="fixed_stats",
    entities=[USER],
    ttl=timedelta(days=7),
    schema=[
        Field(name="user_id", dtype=Int64),
        Field(name="balance", dtype=Float32),
        Field(name="txn_count", dtype=Int64),
    ],
    source=SOURCE,
)


def config_with(tmp_path: Path, url: str, cluster: bool, write_batch_rows: int, bucket_bits: int = 3) -> RepoConfig:
    tier = {"url": url, "cluster": cluster}
    return RepoConfig(
        project="fkcalls",
        provider="local",
        registry=str(tmp_path / "registry.db"),
        entity_key_serialization_version=3,
        online_store={
            "type": STORE_TYPE,
            "tiers": {"hot": tier, "warm": tier},
            "default_tier": "warm",
            "write_batch_rows": write_batch_rows,
            "bucket_bits": bucket_bits,  # few buckets: most calls start or end inside a bucket
        },
    )


def dump(nodes: list[Any]) -> dict[bytes, tuple[dict[bytes, bytes], bool]]:
    """Every key's hash and whether it has an expiry, over every primary."""
    out = {}
    for node in nodes:
        for key in node.keys("*"):
            out[key] = (node.hgetall(key), node.pttl(key) > 0)
    return out


@pytest.mark.parametrize("view", [FIXED, user_view()], ids=["fixed_rows", "listed_rows"])
@pytest.mark.parametrize("call_rows", [1, 7, 64, 1_999])
def test_calls_of_a_chunk_cover_its_rows_once_in_whole_bucket_runs(tmp_path, now, view, call_rows) -> None:
    store = TieredRedisOnlineStore()
    config = config_with(tmp_path, "redis://localhost:1", False, call_rows)
    compiled = store.compiled(config, view)
    rows = prepare(compiled, user_rows(np.arange(1, 4_501), at=now))
    (whole,) = [b for b in batches(compiled, rows, MAX_BATCH_ROWS) if b.rows.start == 0]
    calls = list(batches(compiled, rows, call_rows))
    assert [c.rows.start for c in calls] == list(range(0, 4_500, call_rows))
    assert all(len(c) == min(call_rows, 4_500 - c.rows.start) for c in calls)
    assert all(sum(c.counts) == len(c) and len(c.buckets) == len(c.lows) == len(c.highs) for c in calls)
    first_chunk = [c for c in calls if c.rows.stop <= len(whole)]
    covered = first_chunk[-1].rows.stop
    assert b"".join(c._pairs(0, len(c)) for c in first_chunk) == whole._pairs(0, covered)
    for c in calls:  # each run is one bucket, and its bounds hold every row's order key
        start = c.rows.start
        for bucket, count, lo, hi in zip(c.buckets.tolist(), c.counts, c.lows, c.highs, strict=True):
            assert set(rows.buckets[start : start + count].tolist()) == {bucket}
            run = slice(start, start + count)
            keys = [
                int(e).to_bytes(8, "big") + int(c).to_bytes(8, "big")
                for e, c in zip(rows.event_us[run], rows.created_us[run], strict=True)
            ]
            assert lo <= min(keys) and max(keys) <= hi
            start += count
    store.close()


def test_call_bounds_start_a_run_at_every_bucket_change_and_every_call() -> None:
    buckets = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    assert call_bounds(buckets, 4).tolist() == [0, 3, 4, 5, 8, 9]
    assert call_bounds(buckets, 100).tolist() == [0, 3, 5, 9]
    assert call_bounds(np.array([], dtype=np.int64), 4).tolist() == []


@pytest.mark.parametrize("view", [FIXED, user_view()], ids=["fixed_rows", "listed_rows"])
def test_a_write_split_in_calls_leaves_redis_as_one_call_does(tmp_path, backend, now, view) -> None:
    table = user_rows(np.arange(1, 1_801), at=now)
    states = []
    for call_rows in (MAX_BATCH_ROWS, 7, 64):
        for node in backend.nodes:
            node.flushall()
        store = TieredRedisOnlineStore()
        try:
            config = config_with(tmp_path, backend.url, backend.cluster, call_rows)
            assert store.write_arrow(config, view, table) == 1_800
        finally:
            store.close()
        states.append(dump(backend.nodes))
    assert len(states[0]) == 8  # 2**3 buckets
    assert states[1] == states[0] and states[2] == states[0]


def test_newer_wins_across_call_boundaries(tmp_path, backend, now) -> None:
    view = user_view()
    config = config_with(tmp_path, backend.url, backend.cluster, 5)
    ids = np.arange(1, 501)
    newer, older = ids[ids % 3 == 0], ids[ids % 3 != 0]
    store = TieredRedisOnlineStore()
    try:
        store.write_arrow(config, view, user_rows(ids, at=now, balance_offset=100.0))
        # Every third entity gets a newer row, the rest an older one (ignored), in calls of 5 rows that split buckets.
        store.write_arrow(config, view, user_rows(newer, at=now + timedelta(seconds=1), balance_offset=1.0))
        store.write_arrow(config, view, user_rows(older, at=now - timedelta(hours=1), balance_offset=2.0))
        # A write between the two: every call mixes rows that apply (stored at ``now``) and rows that do not.
        store.write_arrow(config, view, user_rows(ids, at=now + timedelta(milliseconds=500), balance_offset=4.0))
    finally:
        store.close()
    want = np.where(ids % 3 == 0, ids * 1.5 + 1.0, ids * 1.5 + 4.0).astype(np.float32)
    assert read_balances(config, view, ids) == [float(w) for w in want]


def read_balances(config: RepoConfig, view: FeatureView, ids: np.ndarray) -> list[float]:
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    store = TieredRedisOnlineStore()
    try:
        keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(i))]) for i in ids]
        return [row[1]["balance"].float_val for row in store.online_read(config, view, keys)]
    finally:
        store.close()
