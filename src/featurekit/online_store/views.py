"""A feature view compiled for the online store: its tier, keyspace, packed-row schema and ttl.

Compiling once per view (and caching by the view's definition) keeps per-request and per-batch work free of Feast
object inspection; both the writer and the fast read path use the same compiled form, so they cannot disagree
about where or how a view is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from featurekit.online_store.config import ENTITIES_PER_BUCKET, TieredRedisOnlineStoreConfig
from featurekit.online_store.errors import OnlineStoreError, SchemaMismatchError
from featurekit.online_store.keyspace import MAX_BUCKET_BITS, JoinKey, ViewKeyspace
from featurekit.online_store.row_format import RowSchema, build_schema

BUCKET_BITS_TAG = "online_bucket_bits"
EXPECTED_ENTITIES_TAG = "online_expected_entities"


@dataclass
class CompiledView:
    """Everything the store needs to read or write one feature view."""

    name: str
    tier: str
    keyspace: ViewKeyspace
    schema: RowSchema
    ttl_us: int  # 0 = no ttl
    timestamp_field: str | None
    created_field: str | None

    @property
    def join_key_names(self) -> list[str]:
        return [jk.name for jk in self.keyspace.join_keys]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.schema.columns]


def tier_of(feature_view: Any, store_config: TieredRedisOnlineStoreConfig) -> str:
    """The tier a view is routed to: its ``tier`` tag (``tier_tag``), else ``default_tier``."""
    tier = (feature_view.tags or {}).get(store_config.tier_tag) or store_config.default_tier
    if tier not in store_config.tiers:
        raise OnlineStoreError(
            f"feature view {feature_view.name!r} has tag {store_config.tier_tag}={tier!r}, which is not a "
            f"configured tier (online_store.tiers: {', '.join(sorted(store_config.tiers))})"
        )
    return tier


def compile_view(feature_view: Any, project: str, store_config: TieredRedisOnlineStoreConfig) -> CompiledView:
    """Compile a Feast ``FeatureView`` (or stream feature view) for ``project``."""
    columns = {f.name: f for f in getattr(feature_view, "entity_columns", []) or []}
    join_keys: list[JoinKey] = []
    for name in sorted(feature_view.join_keys):
        col = columns.get(name)
        if col is None:
            raise SchemaMismatchError(
                f"feature view {feature_view.name!r}: join key {name!r} has no typed column; declare "
                f"Field(name={name!r}, dtype=...) in the view's schema or give the entity a value_type"
            )
        join_keys.append(JoinKey(name, str(col.dtype)))
    bits = bucket_bits_of(feature_view, store_config)
    ttl = getattr(feature_view, "ttl", None)
    ttl_us = int(ttl.total_seconds() * 1_000_000) if ttl else 0
    source = getattr(feature_view, "batch_source", None) or getattr(feature_view, "stream_source", None)
    created_field = getattr(source, "created_timestamp_column", None) or None
    tier = tier_of(feature_view, store_config)
    # A Redis Cluster tier gets the cluster key layout (a slot hash tag per bucket, see keyspace.py).
    cluster = store_config.tiers[tier].cluster
    return CompiledView(
        name=feature_view.name,
        tier=tier,
        keyspace=ViewKeyspace(project, feature_view.name, tuple(join_keys), bits, cluster=cluster),
        schema=build_schema(_value_fields(feature_view), has_created=created_field is not None),
        ttl_us=ttl_us,
        timestamp_field=getattr(source, "timestamp_field", None) or None,
        created_field=created_field,
    )


def bits_for_entities(entities: int) -> int:
    """Bucket bits for a view of ``entities`` entities: about ``ENTITIES_PER_BUCKET`` entities per bucket."""
    return min(MAX_BUCKET_BITS, max(1, round(math.log2(max(1, entities) / ENTITIES_PER_BUCKET))))


def bucket_bits_of(feature_view: Any, store_config: TieredRedisOnlineStoreConfig) -> int:
    """The view's bucket bits: its ``online_bucket_bits`` tag, else derived from its ``online_expected_entities``
    tag, else the store's ``bucket_bits``, else derived from the store's ``expected_entities``."""
    tags = feature_view.tags or {}
    for tag in (BUCKET_BITS_TAG, EXPECTED_ENTITIES_TAG):
        raw = tags.get(tag)
        if raw is None:
            continue
        try:
            value = int(str(raw).replace("_", ""))
        except ValueError:
            raise OnlineStoreError(f"feature view {feature_view.name!r}: tag {tag}={raw!r} is not an integer") from None
        if value < 1:
            raise OnlineStoreError(f"feature view {feature_view.name!r}: tag {tag}={raw!r} must be at least 1")
        return value if tag == BUCKET_BITS_TAG else bits_for_entities(value)
    configured: int | None = getattr(store_config, "bucket_bits", None)
    if configured is not None:
        return configured
    return bits_for_entities(getattr(store_config, "expected_entities", 100_000))


def _value_fields(feature_view: Any) -> list[tuple[str, Any]]:
    """The packed row's fields: features by name, without join keys.

    A stream feature view read back from the registry lists its features in another order and includes the join key
    (Feast's proto round trip), so the layout must not depend on declaration order or on that quirk.
    """
    join_keys = set(feature_view.join_keys)
    return sorted(((f.name, f.dtype) for f in feature_view.features if f.name not in join_keys), key=lambda f: f[0])


def view_fingerprint(feature_view: Any) -> tuple[Any, ...]:
    """What a compiled view depends on; a cached compilation is reused while this is unchanged."""
    source = getattr(feature_view, "batch_source", None) or getattr(feature_view, "stream_source", None)
    return (
        feature_view.name,
        tuple(sorted(feature_view.join_keys)),
        tuple((name, str(dtype)) for name, dtype in _value_fields(feature_view)),
        tuple(sorted((f.name, str(f.dtype)) for f in getattr(feature_view, "entity_columns", []) or [])),
        tuple(sorted((feature_view.tags or {}).items())),
        getattr(feature_view, "ttl", None),
        getattr(source, "timestamp_field", None),
        getattr(source, "created_timestamp_column", None),
    )
