"""Is a view's bucket layout compact? Compare its real bucket fill and row width with the listpack limits.

A view's bucket count is derived from its declared expected entity count (``views.bucket_bits_of``). This module
checks the declaration against the data: it samples ``HLEN`` of the view's own buckets (no keyspace scan), estimates
the entity count, and reports when buckets are too full (Redis would convert them to hashtables and memory per
entity would roughly double) or too empty (the per-key cost is no longer shared), naming the declaration to set.
The materialization engine runs it after every materialization; operators can call it directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from featurekit.online_store.config import ENTITIES_PER_BUCKET, LISTPACK_SETTINGS
from featurekit.online_store.errors import OnlineStoreError
from featurekit.online_store.views import EXPECTED_ENTITIES_TAG, CompiledView

TOO_EMPTY = ENTITIES_PER_BUCKET / 4  # below this mean fill the per-bucket cost dominates small rows


@dataclass
class SizingReport:
    """Bucket fill of one view (from a sample of its buckets) and what, if anything, to change."""

    view: str
    buckets: int
    sampled: int
    mean_fill: float
    max_fill: int
    estimated_entities: int
    row_bytes: int
    limits: dict[str, int]
    problems: list[str] = field(default_factory=list)


def check_sizing(store: Any, config: Any, feature_view: Any, *, sample: int = 256, seed: int = 0) -> SizingReport:
    """Sample up to ``sample`` buckets of ``feature_view`` and report its fill against the layout's limits."""
    view: CompiledView = store.compiled(config, feature_view)
    tier = store.tier(store.store_config(config), view.tier)
    keys = view.keyspace.bucket_keys()
    picked = keys if len(keys) <= sample else random.Random(seed).sample(keys, sample)
    fills = [max(0, int(n) - 1) for n in tier.pipeline([("HLEN", k) for k in picked])]  # minus the "" bound field
    mean = sum(fills) / len(fills) if fills else 0.0
    limits = server_limits(tier)
    row_bytes = view.schema.stride  # fixed part; variable-width features add their bytes
    report = SizingReport(
        view=view.name,
        buckets=len(keys),
        sampled=len(picked),
        mean_fill=mean,
        max_fill=max(fills, default=0),
        estimated_entities=round(mean * len(keys)),
        row_bytes=row_bytes,
        limits=limits,
    )
    declare = f"declare it with the view tag {EXPECTED_ENTITIES_TAG}={max(1, report.estimated_entities)}"
    if report.max_fill > limits["hash-max-listpack-entries"] * 3 // 4:
        report.problems.append(
            f"feature view {view.name!r}: buckets hold up to {report.max_fill} entities (mean {mean:.1f}), close to "
            f"or above hash-max-listpack-entries={limits['hash-max-listpack-entries']}; {declare} and rematerialize"
        )
    elif 0 < mean < TOO_EMPTY and report.buckets > 2:
        report.problems.append(
            f"feature view {view.name!r}: buckets hold {mean:.1f} entities on average (target "
            f"{ENTITIES_PER_BUCKET}), so per-key overhead dominates; {declare} and rematerialize"
        )
    if row_bytes > limits["hash-max-listpack-value"]:
        report.problems.append(
            f"feature view {view.name!r}: rows are {row_bytes} bytes, above hash-max-listpack-value="
            f"{limits['hash-max-listpack-value']}, so its buckets are hashtables (~60 B more per entity)"
        )
    return report


def server_limits(tier: Any) -> dict[str, int]:
    """The server's listpack limits, or the kit's configured ones when the server hides ``CONFIG`` (ElastiCache
    does; its parameter group sets the kit's values through Terraform)."""
    limits = dict(LISTPACK_SETTINGS)
    try:
        reply = tier.command("CONFIG", "GET", "hash-max-listpack-*")
    except OnlineStoreError:
        return limits
    if isinstance(reply, list):
        pairs = dict(zip(reply[::2], reply[1::2], strict=False))
        for name in limits:
            raw = pairs.get(name.encode())
            if raw is not None:
                limits[name] = int(raw)
    return limits
