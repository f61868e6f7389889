"""Vectorized writes from Arrow tables: validate, deduplicate, pack, and send newer-wins batches to Redis.

The whole path works on columns: timestamps and values go from Arrow to numpy to one packed byte matrix, and for the
common case (integer entity key, fixed-width features) even the RESP command bytes of a batch are built as one numpy
matrix. Rows are sorted by bucket so that a batch touches few Redis keys (one HMGET/HSET per bucket inside the Lua
script instead of one per row). Rows are packed once per chunk of up to ``MAX_BATCH_ROWS`` rows and sliced into write
calls of ``write_batch_rows`` rows (a call is the longest a read waits behind a write, so calls are small); at most
two calls are in flight: the next is built while Redis executes the previous one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurekit.arrow_types import arrow_type
from featurekit.metrics import ONLINE_WRITE_APPLIED_TOTAL, ONLINE_WRITE_ROWS_TOTAL
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError, SchemaMismatchError
from featurekit.online_store.row_format import pack_rows
from featurekit.online_store.tier import TierClient
from featurekit.online_store.views import CompiledView
from featurekit.online_store.write_batch import WriteBatch, fixed_pairs, listed_pairs, order_bounds

MAX_BATCH_ROWS = 2_000  # keeps every Lua ``unpack`` far below its C-stack limit


@dataclass
class PreparedRows:
    """Validated, deduplicated rows of one view, sorted by bucket, ready to pack."""

    fields: list[bytes] | None  # None for integer keys: encoded from ``int_keys`` only when needed
    int_keys: np.ndarray | None
    buckets: np.ndarray
    event_us: np.ndarray
    created_us: np.ndarray | None
    values: list[Any]
    nulls: list[np.ndarray]
    key_width: int = 8

    def __len__(self) -> int:
        return len(self.event_us)

    def field_list(self, sl: slice) -> list[bytes]:
        """Encoded entity fields of rows ``sl``."""
        if self.fields is not None:
            return self.fields[sl]
        assert self.int_keys is not None
        buf = self.int_keys[sl].astype(">i8" if self.key_width == 8 else ">i4").tobytes()
        w = self.key_width
        return [buf[i : i + w] for i in range(0, len(buf), w)]


def _timestamps_us(table: pa.Table, column: str, view: str, *, required: bool) -> np.ndarray | None:
    if column not in table.column_names:
        if required:
            raise SchemaMismatchError(
                f"feature view {view!r}: input has no timestamp column {column!r} (columns: {table.column_names})"
            )
        return None
    col = table.column(column)
    if not pa.types.is_timestamp(col.type):
        raise SchemaMismatchError(f"feature view {view!r}: column {column!r} must be a timestamp, got {col.type}")
    if col.null_count:
        if not required:
            col = col.fill_null(pa.scalar(0, type=col.type))
        else:
            raise SchemaMismatchError(f"feature view {view!r}: timestamp column {column!r} has null values")
    us = col.cast(pa.timestamp("us", tz=col.type.tz), safe=False).cast(pa.int64()).to_numpy()
    if len(us) and int(us.min()) < 0:
        raise SchemaMismatchError(f"feature view {view!r}: column {column!r} has timestamps before 1970")
    return cast(np.ndarray, us)


def _feature_column(table: pa.Table, view: CompiledView, index: int) -> tuple[Any, np.ndarray]:
    spec = view.schema.columns[index]
    if spec.name not in table.column_names:
        raise SchemaMismatchError(
            f"feature view {view.name!r}: input has no column for feature {spec.name!r} (columns: {table.column_names})"
        )
    col = table.column(spec.name)
    nulls = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else np.zeros(len(col), dtype=bool)
    try:
        if spec.kind == "ts":
            if not pa.types.is_timestamp(col.type):
                raise TypeError(f"expected a timestamp column, got {col.type}")
            ints = col.cast(pa.timestamp("us", tz=col.type.tz), safe=False).cast(pa.int64())
            return ints.fill_null(0).to_numpy(), nulls
        if spec.np_dtype is not None:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_binary(col.type):
                raise TypeError(f"expected a numeric column for {spec.feast_type}, got {col.type}")
            filled = (
                col.fill_null(pa.scalar(False if spec.np_dtype == "?" else 0).cast(col.type)) if col.null_count else col
            )
            return filled.to_numpy(zero_copy_only=False).astype(spec.np_dtype, copy=False), nulls
        target = arrow_type(spec.feast_type)
        if col.type != target:
            col = col.cast(target, safe=True)
        if pa.types.is_list(target) and pc.list_flatten(col).null_count:
            raise TypeError("an array holds a null item (Feast arrays cannot; use an empty array or a null array)")
        return col.to_pylist(), nulls
    except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatchError(
            f"feature view {view.name!r}: column {spec.name!r} cannot be stored as {spec.feast_type}: {exc}"
        ) from exc


def prepare(view: CompiledView, table: pa.Table, *, now_us: int | None = None) -> PreparedRows:
    """Validate ``table`` against the view; keep the newest row per entity; drop rows already past the ttl;
    sort by bucket."""
    keyspace = view.keyspace
    missing = [k for k in view.join_key_names if k not in table.column_names]
    if missing:
        raise SchemaMismatchError(
            f"feature view {view.name!r}: input has no entity key column {', '.join(map(repr, missing))} "
            f"(columns: {table.column_names})"
        )
    if view.timestamp_field is None:
        raise SchemaMismatchError(f"feature view {view.name!r} has no batch source timestamp_field")
    event_us = _timestamps_us(table, view.timestamp_field, view.name, required=True)
    assert event_us is not None
    created_us = _timestamps_us(table, view.created_field, view.name, required=False) if view.created_field else None
    key_cols = []
    for jk in keyspace.join_keys:
        col = table.column(jk.name)
        if col.null_count:
            raise SchemaMismatchError(f"feature view {view.name!r}: entity key column {jk.name!r} has nulls")
        if keyspace.int_key:
            if not pa.types.is_integer(col.type):
                raise SchemaMismatchError(
                    f"feature view {view.name!r}: entity key column {jk.name!r} must be {jk.feast_type}, got {col.type}"
                )
            key_cols.append(col.to_numpy())
        else:
            key_cols.append(col.to_pylist())
    n = table.num_rows
    cre = created_us if created_us is not None else np.zeros(n, dtype=np.int64)
    fields: list[bytes] | None = None
    if keyspace.int_key:
        ints = keyspace.int_array(key_cols[0])  # range-checked: a uint64 or Int32 overflow must not wrap
        buckets = keyspace.int_buckets(ints)
        order = np.lexsort((cre, event_us, ints, buckets))
        last = np.ones(n, dtype=bool)
        if n > 1:
            sorted_keys = ints[order]
            last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
        order = order[last]
    else:
        fields, buckets = keyspace.encode_columns(key_cols)
        newest: dict[bytes, int] = {}
        for i, f in enumerate(fields):
            j = newest.get(f)
            if j is None or (event_us[i], cre[i]) > (event_us[j], cre[j]):
                newest[f] = i
        keep = np.fromiter(newest.values(), dtype=np.int64, count=len(newest))
        order = keep[np.argsort(buckets[keep], kind="stable")]

    if view.ttl_us:
        now = now_us if now_us is not None else time.time_ns() // 1000
        order = order[event_us[order] + view.ttl_us > now]

    values: list[Any] = []
    nulls: list[np.ndarray] = []
    for i in range(len(view.schema.columns)):
        vals, mask = _feature_column(table, view, i)
        if isinstance(vals, np.ndarray):
            values.append(vals[order])
        else:
            values.append([vals[j] for j in order.tolist()])
        nulls.append(mask[order])
    return PreparedRows(
        fields=[fields[j] for j in order.tolist()] if fields is not None else None,
        int_keys=ints[order] if keyspace.int_key else None,
        buckets=buckets[order],
        event_us=event_us[order],
        created_us=created_us[order] if created_us is not None else None,
        values=values,
        nulls=nulls,
        key_width=8 if keyspace.join_keys[0].feast_type == "Int64" else 4,
    )


def call_bounds(buckets: np.ndarray, call_rows: int) -> np.ndarray:
    """Start of each bucket run of ``buckets`` (sorted), with a run also starting at every multiple of
    ``call_rows``: a write call is then a whole number of runs."""
    n = len(buckets)
    if not n:
        return np.array([], dtype=np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = buckets[1:] != buckets[:-1]
    first[::call_rows] = True
    return np.flatnonzero(first)


def batches(view: CompiledView, rows: PreparedRows, batch_rows: int) -> Iterator[WriteBatch]:
    """The prepared rows as write calls of ``batch_rows`` rows, built lazily so a tier client packs the next rows
    while Redis executes the previous call.

    Packing, the RESP (field, row) pairs, the bucket runs and their order bounds are built once per *chunk* of up to
    ``MAX_BATCH_ROWS`` rows and sliced into calls, so a small call (it bounds how long a read waits behind a write)
    costs the client about what a large one does per row; only each call's short header is built per call."""
    n = len(rows)
    call_rows = max(1, min(batch_rows, MAX_BATCH_ROWS))
    chunk_rows = call_rows * max(1, MAX_BATCH_ROWS // call_rows)
    ttl_ms = view.ttl_us // 1000
    for chunk_start in range(0, n, chunk_rows):
        sl = slice(chunk_start, min(chunk_start + chunk_rows, n))
        created = rows.created_us[sl] if rows.created_us is not None else None
        packed = pack_rows(
            view.schema, rows.event_us[sl], created, [v[sl] for v in rows.values], [m[sl] for m in rows.nulls]
        )
        m = len(packed)
        buckets = rows.buckets[sl]
        starts = call_bounds(buckets, call_rows)
        counts = np.diff(np.r_[starts, m])
        lows, highs = order_bounds(
            rows.event_us[sl], created if created is not None else np.zeros(m, dtype=np.int64), starts
        )
        run_buckets = buckets[starts]
        pairs: bytes | list[bytes]
        if rows.int_keys is not None and packed.tails is None:
            pairs, stride = fixed_pairs(rows.int_keys[sl], rows.key_width, packed.fixed)
        else:
            pairs, stride = listed_pairs(rows.field_list(sl), packed.to_list()), 0
        # Runs of call k: starts[first[k]:first[k + 1]] (every call boundary is a run start).
        first = np.searchsorted(starts, np.arange(0, m + call_rows, call_rows).clip(max=m)).tolist()
        count_list = counts.tolist()
        for k, lo in enumerate(range(0, m, call_rows)):
            hi = min(lo + call_rows, m)
            a, b = first[k], first[k + 1]
            call_pairs = pairs[lo * stride : hi * stride] if isinstance(pairs, bytes) else pairs[lo:hi]
            yield WriteBatch(
                view.keyspace,
                slice(chunk_start + lo, chunk_start + hi),
                ttl_ms,
                run_buckets[a:b],
                count_list[a:b],
                lows[a:b],
                highs[a:b],
                call_pairs,
                stride,
            )


def write_prepared(
    view: CompiledView,
    tier: TierClient,
    rows: PreparedRows,
    *,
    batch_rows: int,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Send prepared rows in bounded batches; returns how many rows were applied (newer than what Redis had).

    ``on_batch(rows_in_batch, applied)`` is called after each acknowledged batch (metrics)."""
    if len(rows) == 0:
        return 0
    tally = _Tally(view, tier, progress, on_batch)
    try:
        tier.write_newer(lambda: batches(view, rows, batch_rows), tally.acknowledged)
    except RedisUnavailableError as exc:
        raise tally.stopped(len(rows), exc) from exc
    return tally.applied


async def write_prepared_async(
    view: CompiledView,
    tier: TierClient,
    rows: PreparedRows,
    *,
    batch_rows: int,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """:func:`write_prepared` awaited on the running event loop (``feast serve``'s async push and writes)."""
    if len(rows) == 0:
        return 0
    tally = _Tally(view, tier, progress, on_batch)
    try:
        await tier.write_newer_async(lambda: batches(view, rows, batch_rows), tally.acknowledged)
    except RedisUnavailableError as exc:
        raise tally.stopped(len(rows), exc) from exc
    return tally.applied


class _Tally:
    """What a write has had acknowledged: rows applied and sent, for the callbacks and for the error that says how
    far an interrupted write got."""

    def __init__(
        self,
        view: CompiledView,
        tier: TierClient,
        progress: Callable[[int], None] | None,
        on_batch: Callable[[int, int], None] | None,
    ) -> None:
        self.view, self.tier, self.progress, self.on_batch = view, tier, progress, on_batch
        self.applied = self.done = 0

    def acknowledged(self, batch: WriteBatch, replies: list[Any]) -> None:
        got = 0
        for reply in replies:
            if isinstance(reply, Exception):
                raise OnlineStoreError(
                    f"writing feature view {self.view.name!r} to tier {self.tier.name!r} failed in Redis: {reply}"
                )
            got += int(reply)
        self.applied += got
        self.done += len(batch)
        if self.on_batch:
            self.on_batch(len(batch), got)
        if self.progress:
            self.progress(len(batch))

    def stopped(self, total: int, exc: RedisUnavailableError) -> RedisUnavailableError:
        return RedisUnavailableError(
            f"writing feature view {self.view.name!r} to tier {self.tier.name!r} stopped after {self.done} of "
            f"{total} rows: {exc}. Each key is written atomically and newer-wins, so rerunning the same write "
            f"completes it."
        )


class WriteMetrics:
    """A write's metrics and progress: rows sent and applied per batch; rows folded away by dedup or ttl are
    reported as handled at the end."""

    def __init__(self, view: CompiledView, progress: Callable[[int], None] | None) -> None:
        self.view, self.progress, self.reported = view, progress, 0

    def batch(self, sent: int, applied: int) -> None:
        ONLINE_WRITE_ROWS_TOTAL.labels(self.view.name, self.view.tier).inc(sent)
        ONLINE_WRITE_APPLIED_TOTAL.labels(self.view.name, self.view.tier).inc(applied)

    def sent(self, rows: int) -> None:
        self.reported += rows
        if self.progress:
            self.progress(rows)

    def finish(self, total: int) -> int:
        if self.progress and total > self.reported:
            self.progress(total - self.reported)
        return total


__all__ = [
    "MAX_BATCH_ROWS",
    "PreparedRows",
    "WriteMetrics",
    "batches",
    "call_bounds",
    "prepare",
    "write_prepared",
    "write_prepared_async",
]
