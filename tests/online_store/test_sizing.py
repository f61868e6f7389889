"""Compact at any width and scale: bucket count from the expected entity count, the listpack limits set on every
server the kit starts and in Terraform, and the sizing check that compares declarations with the data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import redis
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

from featurekit.online_store.config import LISTPACK_SETTINGS, TieredRedisOnlineStoreConfig
from featurekit.online_store.errors import OnlineStoreError
from featurekit.online_store.sizing import check_sizing
from featurekit.online_store.views import bits_for_entities, bucket_bits_of
from support.online_store_views import repo_config

ROOT = Path(__file__).resolve().parents[2]
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
SOURCE = FileSource(path="/nonexistent/wide.parquet", timestamp_field="event_ts")


def wide_view(features: int, tags: dict[str, str] | None = None) -> FeatureView:
    """``features`` 8-byte features (alternating Float64 / Int64)."""
    schema = [Field(name="user_id", dtype=Int64)] + [
        Field(name=f"f{i:03d}", dtype=Float64 if i % 2 else Int64) for i in range(features)
    ]
    return FeatureView(
        name=f"wide{features}", entities=[USER], ttl=timedelta(days=1), schema=schema, source=SOURCE, tags=tags or {}
    )


def wide_rows(n: int, features: int) -> pa.Table:
    ids = np.arange(1, n + 1, dtype=np.int64)
    cols: dict[str, pa.Array] = {"user_id": pa.array(ids)}
    for i in range(features):
        cols[f"f{i:03d}"] = pa.array(ids * 1.5) if i % 2 else pa.array(ids * 3)
    cols["event_ts"] = pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC"))
    return pa.table(cols)


def test_bucket_count_follows_the_declared_entity_count():
    cfg = TieredRedisOnlineStoreConfig(tiers={"warm": {"url": "redis://x"}})
    assert bits_for_entities(100_000) == 12 and bits_for_entities(10_000) == 9 and bits_for_entities(1) == 1
    assert bits_for_entities(1_000_000) == 15 and bits_for_entities(10**12) == 22
    assert bucket_bits_of(wide_view(2), cfg) == 12  # store default: 100k expected
    assert bucket_bits_of(wide_view(2, {"online_expected_entities": "10_000"}), cfg) == 9
    assert bucket_bits_of(wide_view(2, {"online_expected_entities": "1000", "online_bucket_bits": "3"}), cfg) == 3
    pinned = TieredRedisOnlineStoreConfig(tiers={"warm": {"url": "redis://x"}}, bucket_bits=7)
    assert bucket_bits_of(wide_view(2), pinned) == 7
    with pytest.raises(OnlineStoreError, match="online_expected_entities='lots'"):
        bucket_bits_of(wide_view(2, {"online_expected_entities": "lots"}), cfg)


def test_local_servers_and_terraform_set_the_listpack_limits(redis_url):
    client = redis.Redis.from_url(redis_url)
    got = client.config_get("hash-max-listpack-*")
    client.close()
    assert {k: int(v) for k, v in got.items()} == LISTPACK_SETTINGS
    tf = (ROOT / "infra/terraform/modules/online_store/main.tf").read_text()
    declared = dict(re.findall(r'"(hash-max-listpack-\w+)"\s*=\s*"(\d+)"', tf))
    assert {k: int(v) for k, v in declared.items()} == LISTPACK_SETTINGS
    assert "parameter_group_name = aws_elasticache_parameter_group.this.name" in tf


@pytest.mark.parametrize("features", [8, 20, 100])
def test_rows_of_any_width_stay_listpacks_and_compact(tmp_path, redis_url, store, features):
    n = 5_000
    view = wide_view(features, {"online_expected_entities": str(n)})
    cfg = repo_config(tmp_path, redis_url)
    client = redis.Redis.from_url(redis_url)
    store.write_arrow(cfg, wide_view(1), wide_rows(1, 1))  # loads the write script: not part of the rows' memory
    before = client.info("memory")["used_memory"]
    store.write_arrow(cfg, view, wide_rows(n, features))
    per_entity = (client.info("memory")["used_memory"] - before) / n
    compiled = store.compiled(cfg, view)
    encodings = {client.object("encoding", k) for k in compiled.keyspace.bucket_keys()[:50]}
    client.close()
    assert encodings == {b"listpack"}
    payload = 8 + compiled.schema.stride  # entity field + packed row
    # listpack entry headers and the bucket's key and bound field (~30 B), and allocator size-class rounding of
    # the listpack (jemalloc: up to 25%, ~11% on average, whatever the row width)
    assert per_entity < payload * 1.15 + 30, (per_entity, payload)
    report = check_sizing(store, cfg, view)
    assert report.problems == [] and abs(report.estimated_entities - n) < n * 0.25


def test_the_sizing_check_names_the_declaration_to_set(tmp_path, redis_url, store):
    cfg = repo_config(tmp_path, redis_url)
    crowded = wide_view(4, {"online_expected_entities": "100"})  # 2 buckets for 3,000 entities
    store.write_arrow(cfg, crowded, wide_rows(3_000, 4))
    (problem,) = check_sizing(store, cfg, crowded).problems
    assert "hash-max-listpack-entries=256" in problem and "online_expected_entities=3000" in problem
    sparse = wide_view(6, {"online_expected_entities": "1000000"})
    store.write_arrow(cfg, sparse, wide_rows(2_000, 6))
    (problem,) = check_sizing(store, cfg, sparse).problems
    assert "per-key overhead" in problem and "online_expected_entities=" in problem
    too_wide = wide_view(130, {"online_expected_entities": "100"})
    store.write_arrow(cfg, too_wide, wide_rows(100, 130))
    assert any("above hash-max-listpack-value=1024" in p for p in check_sizing(store, cfg, too_wide).problems)
