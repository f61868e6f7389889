"""Shards of one view's materialization: how many, and which entities each one writes.

Why buckets: the online store already spreads a view's entities over ``2**bucket_bits`` Redis hash keys (buckets) by a
hash of the entity key. Shard ``i`` of ``N`` owns the ``i``-th of N contiguous bucket ranges, so

* every entity belongs to exactly one shard, whatever the partition holds (no key ranges to estimate up front);
* shards write disjoint Redis keys: they never run newer-wins scripts against the same bucket at the same time;
* the assignment depends only on the view's definition and N, so a retried shard writes exactly the entities it
  wrote the first time.

How many: the view's ``shards`` tag when set (a positive integer), else one shard per :data:`ROWS_PER_SHARD` rows
of the validated batch, at most :data:`MAX_SHARDS`; never more shards than the view has buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from featurekit.tags import SHARDS_TAG, shards_tag

ROWS_PER_SHARD = 2_000_000
MAX_SHARDS = 32


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"shard count must be a positive integer, got {self.count!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, int) or not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be an integer in [0, {self.count}), got {self.index!r}")

    def __str__(self) -> str:
        return f"shard {self.index}/{self.count}"

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}

    @classmethod
    def from_dict(cls, data: Any) -> Shard:
        """A shard from its ``{"index": i, "count": n}`` form (Airflow XCom, CLI); a clear error otherwise."""
        if isinstance(data, Shard):
            return data
        if not isinstance(data, dict) or set(data) != {"index", "count"}:
            raise ValueError(f"a shard is {{'index': i, 'count': n}}, got {data!r}")
        return cls(index=data["index"], count=data["count"])

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (the CLI's ``--shard``), e.g. ``2/4`` for the third of four shards."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"a shard is written I/N with 0 <= I < N (e.g. 2/4), got {text!r}")
        return cls(index=int(index), count=int(count))


def shard_count(view: Any, rows: int, bucket_count: int) -> int:
    """How many shards ``view``'s materialization of a ``rows``-row batch runs as (see the module docstring)."""
    tagged = shards_tag(view)
    wanted = tagged if tagged is not None else min(MAX_SHARDS, max(1, math.ceil(rows / ROWS_PER_SHARD)))
    return max(1, min(wanted, bucket_count))


def shard_of_buckets(buckets: np.ndarray, bucket_count: int, count: int) -> np.ndarray:
    """The shard of each bucket: shard ``i`` owns buckets ``[i*B/N, (i+1)*B/N)``."""
    return (np.asarray(buckets, dtype=np.int64) * count) // bucket_count


def shard_rows(table: pa.Table, keyspace: Any, shard: Shard, view_name: str) -> pa.Table:
    """The rows of ``table`` whose entity belongs to ``shard`` (same bucket hash as the online store's writes)."""
    columns = []
    for jk in keyspace.join_keys:
        if jk.name not in table.column_names:
            raise ValueError(f"feature view {view_name!r}: offline rows have no entity key column {jk.name!r}")
        column = table.column(jk.name)
        if column.null_count:
            raise ValueError(f"feature view {view_name!r}: entity key column {jk.name!r} has null values")
        columns.append(column.to_numpy() if keyspace.int_key else column.to_pylist())
    if keyspace.int_key:
        buckets = keyspace.int_buckets(keyspace.int_array(columns[0]))
    else:
        _, buckets = keyspace.encode_columns(columns)
    mask = shard_of_buckets(buckets, keyspace.bucket_count, shard.count) == shard.index
    return table.filter(pa.array(mask))


def shard_buckets(keyspace: Any, shard: Shard) -> list[int]:
    """The buckets (Redis keys) ``shard`` writes."""
    owners = shard_of_buckets(np.arange(keyspace.bucket_count), keyspace.bucket_count, shard.count)
    return np.flatnonzero(owners == shard.index).tolist()


__all__ = ["MAX_SHARDS", "ROWS_PER_SHARD", "SHARDS_TAG", "Shard", "shard_buckets", "shard_count", "shard_rows"]
