"""Configuration of the tiered Redis online store: one connection block per tier.

A feature view's ``tier`` tag picks the block (``hot``: in-memory Redis for streaming and small, frequently read
views; ``warm``: ElastiCache data tiering for large batch views). The kit's settings embed this model; Feast
instantiates it from the ``online_store`` section of ``feature_store.yaml`` through the subclass of the same name in
``store.py`` (Feast looks for the store class in its config class's module), so it is defined once.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

STORE_TYPE: Final = "featurekit.online_store.store.TieredRedisOnlineStore"
# Feast extension points that keep Feast's own write APIs on the Arrow writer (see ``feast_write.py``).
ENGINE_TYPE: Final = "featurekit.online_store.feast_write.FeaturekitMaterializationEngine"
PROVIDER_TYPE = "featurekit.online_store.feast_write.FeaturekitProvider"

# Redis settings the bucket layout relies on (docs/online-store.md#sizing): a bucket stays a compact listpack while
# it has at most this many fields and every row is at most this many bytes. The kit's local redis-server and the
# Terraform ElastiCache parameter group set exactly these values (tests/online_store/test_sizing.py checks both).
LISTPACK_SETTINGS: dict[str, int] = {"hash-max-listpack-entries": 256, "hash-max-listpack-value": 1024}
# Buckets are sized for this many entities on average: far below the entries limit (room for skew and for a view
# growing several times past its declared size), far enough above 1 that the per-key cost is shared.
ENTITIES_PER_BUCKET = 24


class RedisTierConfig(BaseModel):
    """How to reach one Redis deployment.

    ``url`` is ``redis://`` or ``rediss://`` (TLS); ``password`` and ``username`` (Redis ACL user) come from the
    environment through ``${VAR}`` references in the environment file. ``cluster`` selects Redis Cluster clients.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    cluster: bool = False
    username: str | None = None
    password: SecretStr | None = None
    ssl_ca_certs: str | None = None
    socket_timeout_s: float = 2.0
    max_connections: int = 64
    # A write returns only once this many replicas (of each primary written to) have it (Redis ``WAIT``), so a
    # failover cannot lose an acknowledged write. 0: acknowledged by the primary (Redis' default).
    wait_replicas: int = Field(default=0, ge=0)
    wait_timeout_ms: int = Field(default=1000, gt=0)


class TieredRedisOnlineStoreConfig(BaseModel):
    """The ``online_store`` block: tiers by name, the tier used when a view has no ``tier`` tag, write batching."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["featurekit.online_store.store.TieredRedisOnlineStore"] = STORE_TYPE
    tiers: dict[str, RedisTierConfig]
    default_tier: str = "warm"
    tier_tag: str = "tier"
    # Rows per newer-wins script call. Redis runs each call atomically, so a call is also the longest a read can
    # wait behind a write: 128 rows hold Redis ~0.2 ms (p99 ~0.4-0.6 ms) where 256 took ~0.45 (p99 1.1-4.6) and
    # 2,000 took 4-14 ms. The writer packs 2,000 rows at a time and slices them into calls, and keeps 2,000 rows of
    # calls in flight, so materialize loses ~11% to 2,000-row calls (64 rows: ~17%). Data in docs/performance.md,
    # "Serving through a load".
    write_batch_rows: int = Field(default=128, ge=1, le=2_000)
    # Each feature view owns 2**bits Redis hashes, derived from its expected entity count (the view's
    # ``online_expected_entities`` tag, else ``expected_entities``) so a bucket holds ~ENTITIES_PER_BUCKET entities.
    # ``bucket_bits`` (or the view tag ``online_bucket_bits``) pins the count instead. See docs/online-store.md.
    expected_entities: int = Field(default=100_000, ge=1)
    bucket_bits: int | None = Field(default=None, ge=1, le=22)

    @model_validator(mode="after")
    def _default_tier_exists(self) -> TieredRedisOnlineStoreConfig:
        if self.default_tier not in self.tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the tiers {sorted(self.tiers)}")
        return self
