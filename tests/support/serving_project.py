"""A real Feast project for the serving tests (file registry, featurekit online store on the test Redis): two
feature views on different tiers with different entities, on-demand views in python and pandas mode (with request
data) and feature services (one with an alias projection); ``tests/serving/conftest.py`` builds it per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float32, Float64, Int64, String

USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
MERCHANT = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)
USER_SOURCE = FileSource(path="/nonexistent/users.parquet", timestamp_field="event_ts")
MERCHANT_SOURCE = FileSource(path="/nonexistent/merchants.parquet", timestamp_field="event_ts")

USER_PROFILE = FeatureView(
    name="user_profile",
    entities=[USER],
    ttl=timedelta(days=30),
    schema=[
        Field(name="user_id", dtype=Int64),
        Field(name="age", dtype=Int64),
        Field(name="credit_limit", dtype=Float32),
        Field(name="country", dtype=String),
        Field(name="verified", dtype=Bool),
    ],
    source=USER_SOURCE,
    tags={"tier": "warm"},
)
USER_BALANCE = FeatureView(
    name="user_balance",
    entities=[USER],
    ttl=timedelta(hours=6),
    schema=[
        Field(name="user_id", dtype=Int64),
        Field(name="balance", dtype=Float64),
        Field(name="pending", dtype=Float32),
    ],
    source=USER_SOURCE,
    tags={"tier": "hot"},
)
MERCHANT_RISK = FeatureView(
    name="merchant_risk",
    entities=[MERCHANT],
    ttl=timedelta(days=1),
    schema=[Field(name="merchant_id", dtype=String), Field(name="risk_score", dtype=Float32)],
    source=MERCHANT_SOURCE,
    tags={"tier": "warm"},
)
NEAR_EXPIRY = timedelta(seconds=3)
REQUEST = RequestSource(name="advance_request", schema=[Field(name="requested_amount", dtype=Float64)])


@on_demand_feature_view(
    sources=[USER_BALANCE, REQUEST],
    schema=[Field(name="amount_over_balance", dtype=Float64), Field(name="can_cover", dtype=Bool)],
    mode="python",
)
def advance_python(inputs: dict[str, Any]) -> dict[str, Any]:
    out_ratio, out_cover = [], []
    for balance, amount in zip(inputs["balance"], inputs["requested_amount"], strict=True):
        out_ratio.append(None if balance is None else amount / max(balance, 1.0))
        out_cover.append(balance is not None and balance >= amount)
    return {"amount_over_balance": out_ratio, "can_cover": out_cover}


@on_demand_feature_view(
    sources=[USER_PROFILE, REQUEST],
    schema=[Field(name="limit_headroom", dtype=Float64)],
    mode="pandas",
)
def advance_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"limit_headroom": inputs["credit_limit"] - inputs["requested_amount"]})


SERVICE = FeatureService(
    name="cash_advance_v1",
    features=[USER_PROFILE[["age", "credit_limit"]], USER_BALANCE, advance_python],
)
ALIASED_SERVICE = FeatureService(
    name="aliased_v1",
    features=[USER_BALANCE.with_name("bal")],
)
OBJECTS = [
    USER,
    MERCHANT,
    USER_PROFILE,
    USER_BALANCE,
    MERCHANT_RISK,
    advance_python,
    advance_pandas,
    SERVICE,
    ALIASED_SERVICE,
]


def write_fixture_data(store: FeatureStore, now: datetime) -> datetime:
    """Users 1..200 (balance only for even ids), merchants m1..m20. User 13's only profile row expires
    ``NEAR_EXPIRY`` after it is written; returns that moment."""
    from featurekit.online_store.store import TieredRedisOnlineStore

    online = store._get_provider().online_store
    assert isinstance(online, TieredRedisOnlineStore)
    ids = np.arange(1, 201)
    ts = pa.array([now - timedelta(minutes=int(i % 50)) for i in ids], pa.timestamp("us", tz="UTC"))
    profile = pa.table(
        {
            "user_id": ids,
            "age": pa.array([int(20 + i % 50) if i % 7 else None for i in ids], pa.int64()),
            "credit_limit": pa.array((ids * 10.25).astype(np.float32)),
            "country": [("GB", "US", "DE")[i % 3] for i in ids],
            "verified": [bool(i % 2) for i in ids],
            "event_ts": ts,
        }
    )
    not_13 = pa.array(ids != 13)
    online.write_arrow(store.config, USER_PROFILE, profile.filter(not_13))
    expires_at = datetime.now(UTC) + NEAR_EXPIRY
    near_expiry = expires_at - USER_PROFILE.ttl
    online.write_arrow(
        store.config,
        USER_PROFILE,
        profile.filter(pa.array(ids == 13)).set_column(5, "event_ts", pa.array([near_expiry], ts.type)),
    )
    even = ids[ids % 2 == 0]
    online.write_arrow(
        store.config,
        USER_BALANCE,
        pa.table(
            {
                "user_id": even,
                "balance": even * 3.3,
                "pending": pa.array((even / 3).astype(np.float32)),
                "event_ts": pa.array([now] * len(even), pa.timestamp("us", tz="UTC")),
            }
        ),
    )
    merchants = [f"m{i}" for i in range(1, 21)]
    online.write_arrow(
        store.config,
        MERCHANT_RISK,
        pa.table(
            {
                "merchant_id": merchants,
                "risk_score": pa.array(np.linspace(0, 1, 20).astype(np.float32)),
                "event_ts": pa.array([now] * 20, pa.timestamp("us", tz="UTC")),
            }
        ),
    )
    return expires_at


def write_repo(path: Path, redis_url: str, *, cache_ttl: int = 60) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "feature_store.yaml").write_text(
        "project: fkserving\nprovider: local\nentity_key_serialization_version: 3\n"
        f"registry:\n  path: {path / 'registry.db'}\n  cache_ttl_seconds: {cache_ttl}\n"
        "online_store:\n  type: featurekit.online_store.store.TieredRedisOnlineStore\n"
        f"  tiers:\n    hot:\n      url: {redis_url}\n    warm:\n      url: {redis_url}\n"
        "  default_tier: warm\n"
        "offline_store:\n  type: file\n"
    )
