"""Test feature views and rows for the online-store tests, and a Feast ``RepoConfig`` over given Redis URLs (the
fixtures in ``tests/online_store/conftest.py`` build on them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Bool, Float32, Float64, Int64, String

STORE_TYPE = "featurekit.online_store.store.TieredRedisOnlineStore"
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
SOURCE = FileSource(path="/nonexistent/users.parquet", timestamp_field="event_ts", created_timestamp_column="created")


def repo_config(tmp_path: Path, hot_url: str, warm_url: str | None = None, **tier_extra: Any) -> RepoConfig:
    tiers = {"hot": {"url": hot_url, **tier_extra}, "warm": {"url": warm_url or hot_url, **tier_extra}}
    return RepoConfig(
        project="fktest",
        provider="local",
        registry=str(tmp_path / "registry.db"),
        entity_key_serialization_version=3,
        online_store={"type": STORE_TYPE, "tiers": tiers, "default_tier": "warm"},
    )


def user_view(
    name: str = "user_stats",
    *,
    ttl: timedelta | None = timedelta(days=7),
    tier: str | None = None,
    extra_tags: dict[str, str] | None = None,
) -> FeatureView:
    tags = {"tier": tier} if tier else {}
    tags.update(extra_tags or {})
    return FeatureView(
        name=name,
        entities=[USER],
        ttl=ttl,
        schema=[
            Field(name="user_id", dtype=Int64),
            Field(name="balance", dtype=Float32),
            Field(name="txn_count", dtype=Int64),
            Field(name="avg_amount", dtype=Float64),
            Field(name="segment", dtype=String),
            Field(name="is_active", dtype=Bool),
        ],
        source=SOURCE,
        tags=tags,
    )


def user_rows(
    ids: list[int] | np.ndarray,
    *,
    at: datetime,
    created: datetime | None = None,
    balance_offset: float = 0.0,
) -> pa.Table:
    """Rows for :func:`user_view`: values derived from the id so tests can predict them."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    return pa.table(
        {
            "user_id": pa.array(ids, pa.int64()),
            "balance": pa.array((ids * 1.5 + balance_offset).astype(np.float32)),
            "txn_count": pa.array([int(i) * 3 if i % 5 else None for i in ids], pa.int64()),
            "avg_amount": pa.array(ids / 7.0),
            "segment": pa.array([f"seg-{i % 4}" for i in ids]),
            "is_active": pa.array([bool(i % 2) for i in ids]),
            "event_ts": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            "created": pa.array([created or at] * n, pa.timestamp("us", tz="UTC")),
        }
    )


@dataclass
class Backend:
    """Where the contract runs: a standalone server or a cluster. ``client`` is a redis-py client for inspecting
    keys (routed per slot on a cluster); ``nodes`` one plain client per primary."""

    name: str
    url: str
    cluster: bool
    client: Any
    nodes: list[Any]

    def dbsize(self) -> int:
        return sum(node.dbsize() for node in self.nodes)
