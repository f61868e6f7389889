"""Vectorized writes from Arrow tables: validate, deduplicate, pack, and send newer-wins batches to Redis.

The whole path works on columns: timestamps and values go from Arrow to numpy to one packed byte matrix, and for the
common case (integer entity key, fixed-width features) even the RESP command bytes of a batch are built as one numpy
matrix. Rows are sorted by bucket so that a batch touches few Redis keys (one HMGET/HSET per bucket inside the Lua
script instead of one per row). Batches are bounded (``write_batch_rows``) and at most two are in flight: the next
batch is packed while Redis executes the previous one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurekit.arrow_types import arrow_type
from featurekit.online_store.connection import Tier
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError, SchemaMismatchError
from featurekit.online_store.row_format import PackedRows, pack_rows
from featurekit.online_store.scripts import PUT_NEWER
from featurekit.online_store.views import CompiledView

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


def _pairs_resp(view: CompiledView, rows: PreparedRows, sl: slice, packed: PackedRows) -> bytes:
    """RESP bytes of the (field, row) argument pairs of one batch; one numpy matrix in the fixed-width case."""
    m = len(packed)
    if rows.int_keys is not None and packed.tails is None:
        width = 8 if view.keyspace.join_keys[0].feast_type == "Int64" else 4
        stride = packed.fixed.shape[1]
        head = b"$%d\r\n" % width
        mid = b"\r\n$%d\r\n" % stride
        row_len = len(head) + width + len(mid) + stride + 2
        out = np.empty((m, row_len), dtype=np.uint8)
        pos = 0
        out[:, pos : pos + len(head)] = np.frombuffer(head, np.uint8)
        pos += len(head)
        key_dtype = ">i8" if width == 8 else ">i4"
        out[:, pos : pos + width] = rows.int_keys[sl].astype(key_dtype).view(np.uint8).reshape(m, width)
        pos += width
        out[:, pos : pos + len(mid)] = np.frombuffer(mid, np.uint8)
        pos += len(mid)
        out[:, pos : pos + stride] = packed.fixed
        pos += stride
        out[:, pos:] = np.frombuffer(b"\r\n", np.uint8)
        return out.tobytes()
    parts = []
    for f, v in zip(rows.field_list(sl), packed.to_list(), strict=True):
        parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v))
    return b"".join(parts)


def _bucket_runs(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal buckets (rows are sorted by bucket)."""
    if not len(buckets):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    return starts, np.diff(np.r_[starts, len(buckets)])


def _order_bounds(rows: PreparedRows, sl: slice, starts: np.ndarray) -> tuple[list[bytes], list[bytes]]:
    """Per bucket run: 16-byte order keys ``lo`` <= every row's and ``hi`` >= every row's (see ``scripts.py``)."""
    ev = rows.event_us[sl]
    cr = rows.created_us[sl] if rows.created_us is not None else np.zeros(len(ev), dtype=np.int64)
    lo = np.column_stack([np.minimum.reduceat(ev, starts), np.minimum.reduceat(cr, starts)]).astype(">u8")
    hi = np.column_stack([np.maximum.reduceat(ev, starts), np.maximum.reduceat(cr, starts)]).astype(">u8")
    lo_b, hi_b = lo.tobytes(), hi.tobytes()
    return [lo_b[i : i + 16] for i in range(0, len(lo_b), 16)], [hi_b[i : i + 16] for i in range(0, len(hi_b), 16)]


def _batch_command(view: CompiledView, sha: bytes, rows: PreparedRows, sl: slice, packed: PackedRows) -> bytes:
    """One ``EVALSHA PUT_NEWER`` for a batch sorted by bucket."""
    buckets = rows.buckets[sl]
    starts, counts = _bucket_runs(buckets)
    lows, highs = _order_bounds(rows, sl, starts)
    keyspace = view.keyspace
    resp_keys = keyspace.resp_bucket_keys()
    bucket_ids = buckets[starts].tolist()
    nkeys = len(bucket_ids)
    ttl_ms = view.ttl_us // 1000
    nargs = 3 + nkeys + 1 + 3 * nkeys + 2 * len(packed)
    head = b"*%d\r\n$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n" % (nargs, len(sha), sha, len(str(nkeys)), nkeys)
    keys = b"".join([resp_keys[b] for b in bucket_ids])
    ttl = b"$%d\r\n%d\r\n" % (len(str(ttl_ms)), ttl_ms)
    cnt = b"".join([b"$%d\r\n%d\r\n" % (len(str(c)), c) for c in counts.tolist()])
    bounds = b"".join([b"$16\r\n%s\r\n$16\r\n%s\r\n" % (lo, hi) for lo, hi in zip(lows, highs, strict=True)])
    return head + keys + ttl + cnt + bounds + _pairs_resp(view, rows, sl, packed)


def _check_reply(view: CompiledView, tier: Tier, reply: Any) -> int:
    if isinstance(reply, Exception):
        raise OnlineStoreError(f"writing feature view {view.name!r} to tier {tier.name!r} failed in Redis: {reply}")
    return int(reply)


def write_prepared(
    view: CompiledView,
    tier: Tier,
    rows: PreparedRows,
    *,
    batch_rows: int,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Send prepared rows in bounded batches; returns how many rows were applied (newer than what Redis had).

    ``on_batch(rows_in_batch, applied)`` is called after each acknowledged batch (metrics)."""
    n = len(rows)
    if n == 0:
        return 0
    batch_rows = max(1, min(batch_rows, MAX_BATCH_ROWS))
    sha = tier.script_sha(PUT_NEWER)
    slices = [slice(i, min(i + batch_rows, n)) for i in range(0, n, batch_rows)]
    applied = 0
    done = 0

    def pack(sl: slice) -> PackedRows:
        created = rows.created_us[sl] if rows.created_us is not None else None
        vals = [v[sl] for v in rows.values]
        return pack_rows(view.schema, rows.event_us[sl], created, vals, [m[sl] for m in rows.nulls])

    def acknowledged(sl: slice, reply: Any) -> None:
        nonlocal applied, done
        count = sl.stop - sl.start
        got = _check_reply(view, tier, reply)
        applied += got
        done += count
        if on_batch:
            on_batch(count, got)
        if progress:
            progress(count)

    try:
        if tier.cluster:
            for sl in slices:
                packed = pack(sl)
                commands = _cluster_commands(view, sha, rows, sl, packed)
                replies = tier.pipeline(commands)
                total = 0
                for reply in replies:
                    total += _check_reply(view, tier, reply)
                acknowledged(sl, total)
            return applied

        def run(conn: Any, todo: list[slice]) -> None:
            pending: slice | None = None
            for sl in todo:
                conn.send(_batch_command(view, sha, rows, sl, pack(sl)))
                if pending is not None:
                    acknowledged(pending, conn.read(1)[0])
                pending = sl
            if pending is not None:
                acknowledged(pending, conn.read(1)[0])

        try:
            with tier.connection() as conn:
                run(conn, slices)
        except RedisUnavailableError:
            if done:
                raise
            # Nothing acknowledged: the pooled connection may predate a Redis restart. Retry once, fresh
            # (batches are idempotent under newer-wins).
            sha = tier.script_sha(PUT_NEWER)
            with tier.connection(fresh=True) as conn:
                run(conn, slices)
    except RedisUnavailableError as exc:
        raise RedisUnavailableError(
            f"writing feature view {view.name!r} to tier {tier.name!r} stopped after {done} of {n} rows: {exc}. "
            f"Each key is written atomically and newer-wins, so rerunning the same write completes it."
        ) from exc
    return applied


def _cluster_commands(
    view: CompiledView, sha: bytes, rows: PreparedRows, sl: slice, packed: PackedRows
) -> list[tuple[Any, ...]]:
    """Cluster: one EVALSHA per bucket key (a script may only touch keys of one slot)."""
    ttl_ms = view.ttl_us // 1000
    fields = rows.field_list(sl)
    values = packed.to_list()
    buckets = rows.buckets[sl]
    starts, counts = _bucket_runs(buckets)
    lows, highs = _order_bounds(rows, sl, starts)
    commands: list[tuple[Any, ...]] = []
    for start, count, lo, hi in zip(starts.tolist(), counts.tolist(), lows, highs, strict=True):
        pairs: list[bytes] = []
        for f, v in zip(fields[start : start + count], values[start : start + count], strict=True):
            pairs += [f, v]
        key = view.keyspace.bucket_key(int(buckets[start]))
        commands.append(("EVALSHA", sha, 1, key, ttl_ms, count, lo, hi, *pairs))
    return commands


__all__ = ["PreparedRows", "prepare", "write_prepared"]
