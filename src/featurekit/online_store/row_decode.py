"""Decoding packed rows (:mod:`featurekit.online_store.row_format`) back into feature columns.

Kept apart from the format and the packer because reading has its own concerns: whole batches decode column-wise
with numpy, small batches with ``struct`` (cheaper below :data:`SMALL_BATCH` rows), and a row that cannot be decoded
(another schema, invalid UTF-8, an impossible timestamp) becomes that row's error instead of failing the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import orjson

from featurekit.online_store.row_format import (
    FLAG_CREATED,
    FORMAT_VERSION,
    MAX_EVENT_US,
    MIN_TS_US,
    ColumnSpec,
    RowSchema,
)


def _decode_var(col: ColumnSpec, payload: bytes) -> Any:
    if col.kind == "str":
        return payload.decode()
    if col.kind == "bytes":
        return payload
    if col.kind == "bytes_list":
        items, pos = [], 0
        while pos < len(payload):
            size = int.from_bytes(payload[pos : pos + 4], "little")
            items.append(payload[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return items
    if col.kind == "ts_list":
        return _ts_list(np.frombuffer(payload, dtype="<i8"))
    return orjson.loads(payload)


@dataclass
class DecodedRows:
    """Decoded values of ``n`` requested rows, columns in the requested order.

    ``present[i]`` is true when row i was found, valid and not expired; ``event_us[i]`` its event time.
    ``errors`` maps row index -> message for rows whose bytes are not a valid row of this view.
    """

    columns: list[list[Any]]
    present: list[bool]
    event_us: list[int | None]
    errors: dict[int, str]
    nonfinite: set[int] = field(default_factory=set)  # positions in ``wanted`` that may hold NaN or infinity


def decode_rows(
    schema: RowSchema,
    rows: Sequence[bytes | None],
    wanted: Sequence[int],
    *,
    expire_before_us: int | None = None,
) -> DecodedRows:
    """Decode Redis replies (``None`` = missing) for the feature indexes in ``wanted``.

    Rows older than ``expire_before_us`` (the view's ttl cut-off) count as missing. Invalid rows are reported
    per row in ``errors`` and count as missing, so one bad key never fails a whole request.
    """
    n = len(rows)
    errors: dict[int, str] = {}
    stride = schema.stride
    fixed_only = schema.fixed_only
    if fixed_only and n > SMALL_BATCH:
        # Common case first, with C-level scans: every reply is a row of the right length (or missing).
        idx = [i for i, r in enumerate(rows) if r is not None] if None in rows else list(range(n))
        found = cast(list[bytes], [rows[i] for i in idx] if len(idx) != n else list(rows))
        try:
            uniform = set(map(len, found)) <= {stride}
        except TypeError:  # an error reply (exception object) is among them
            uniform = False
        if uniform and found:
            rec = np.frombuffer(b"".join(found), dtype=schema.fixed_dtype)
            if bool((rec["version"] == FORMAT_VERSION).all()):
                return _decode_fixed(schema, n, idx, rec, wanted, expire_before_us, errors)
    good_idx: list[int] = []
    good_rows: list[bytes] = []
    for i, row in enumerate(rows):
        if row is None:
            continue
        if isinstance(row, Exception):
            errors[i] = f"redis error: {row}"
            continue
        if len(row) < stride or row[0] != FORMAT_VERSION or (fixed_only and len(row) != stride):
            errors[i] = _describe_bad_row(schema, row)
            continue
        good_idx.append(i)
        good_rows.append(row)

    if not good_rows:
        return DecodedRows([[None] * n for _ in wanted], [False] * n, [None] * n, errors)
    if len(good_rows) <= SMALL_BATCH:
        return _decode_small(schema, n, good_idx, good_rows, wanted, expire_before_us, errors)

    if fixed_only:
        rec = np.frombuffer(b"".join(good_rows), dtype=schema.fixed_dtype)
        return _decode_fixed(schema, n, good_idx, rec, wanted, expire_before_us, errors)
    rec = np.frombuffer(b"".join(r[:stride] for r in good_rows), dtype=schema.fixed_dtype)
    return _decode_records(schema, n, good_idx, good_rows, rec, wanted, expire_before_us, errors)


def _decode_fixed(
    schema: RowSchema,
    n: int,
    good_idx: list[int],
    rec: np.ndarray,
    wanted: Sequence[int],
    expire_before_us: int | None,
    errors: dict[int, str],
) -> DecodedRows:
    return _decode_records(schema, n, good_idx, [], rec, wanted, expire_before_us, errors)


def _decode_records(
    schema: RowSchema,
    n: int,
    good_idx: list[int],
    good_rows: list[bytes],
    rec: np.ndarray,
    wanted: Sequence[int],
    expire_before_us: int | None,
    errors: dict[int, str],
) -> DecodedRows:
    """The numpy path: ``rec`` holds the fixed part of the rows at ``good_idx`` (``good_rows`` is only needed
    for variable-width columns). A row with a value that cannot be decoded (out-of-range time, invalid UTF-8 or
    list JSON) is reported in ``errors`` and served as missing; the other rows are unaffected."""
    keep = rec["schema"] == schema.schema_id
    if expire_before_us is not None:
        keep &= rec["event"] >= expire_before_us
    schema_bad = rec["schema"] != schema.schema_id
    if schema_bad.any():
        for j in np.flatnonzero(schema_bad).tolist():
            errors[good_idx[j]] = (
                f"row was written with another schema of this feature view (schema id "
                f"{int(rec['schema'][j])}, expected {schema.schema_id}); rematerialize the view"
            )
    bad_event = rec["event"] > MAX_EVENT_US
    if bad_event.any():
        for j in np.flatnonzero(bad_event & keep).tolist():
            errors[good_idx[j]] = _bad_time("event timestamp", int(rec["event"][j]))
        keep &= ~bad_event

    raw_columns: list[Any] = []
    var_cache: dict[int, tuple[list[Any], dict[int, str]]] = {}
    for c in wanted:
        col = schema.columns[c]
        if col.np_dtype is None:
            values, failures = _var_column(schema, c, good_rows, var_cache)
            for j, message in failures.items():
                if keep[j]:
                    errors[good_idx[j]] = message
                    keep[j] = False
            raw_columns.append(values)
            continue
        raw = rec[f"c{c}"]
        if col.kind == "ts":
            bad_ts = (raw < MIN_TS_US) | (raw > MAX_EVENT_US)
            if bad_ts.any():
                for j in np.flatnonzero(bad_ts & keep).tolist():
                    errors[good_idx[j]] = _bad_time(f"feature {col.name!r}", int(raw[j]))
                keep &= ~bad_ts
                raw = np.where(bad_ts, 0, raw)
        raw_columns.append(raw)

    all_kept = bool(keep.all())
    events = rec["event"].astype(np.int64).tolist()
    null_bits = np.unpackbits(rec["nulls"], axis=1, bitorder="little") if schema.columns else None

    kept_positions = range(len(good_idx)) if all_kept else np.flatnonzero(keep).tolist()
    dense = all_kept and len(good_idx) == n
    if dense:
        present = [True] * n
        event_us: list[int | None] = events
    else:
        present = [False] * n
        event_us = [None] * n
        for j in kept_positions:
            i = good_idx[j]
            present[i] = True
            event_us[i] = events[j]

    columns: list[list[Any]] = []
    nonfinite: set[int] = set()
    for c, raw in zip(wanted, raw_columns, strict=True):
        col = schema.columns[c]
        if col.np_dtype is not None:
            decoded = _ts_list(raw) if col.kind == "ts" else raw.tolist()
            if raw.dtype.kind == "f" and not np.isfinite(raw).all():
                nonfinite.add(len(columns))
        else:
            decoded = list(raw)
        col_nulls = null_bits[:, c] if null_bits is not None else None
        if col_nulls is not None and col_nulls.any():
            for j in np.flatnonzero(col_nulls).tolist():
                decoded[j] = None
        if dense:
            columns.append(decoded)
            continue
        out: list[Any] = [None] * n
        for j in kept_positions:
            out[good_idx[j]] = decoded[j]
        columns.append(out)
    return DecodedRows(columns, present, event_us, errors, nonfinite)


SMALL_BATCH = 16  # up to this many rows, struct decoding beats numpy's per-call overhead


def _decode_small(
    schema: RowSchema,
    n: int,
    good_idx: list[int],
    good_rows: list[bytes],
    wanted: Sequence[int],
    expire_before_us: int | None,
    errors: dict[int, str],
) -> DecodedRows:
    """:func:`decode_rows` for a few rows with ``struct`` (same results as the numpy path)."""
    header, body = schema.header_struct, schema.body_struct
    offset = header.size
    positions = schema.body_positions
    kinds = [schema.columns[c].kind for c in wanted]
    floats = [k for k, c in enumerate(wanted) if schema.columns[c].np_dtype in ("<f4", "<f8")]
    columns: list[list[Any]] = [[None] * n for _ in wanted]
    present = [False] * n
    event_us: list[int | None] = [None] * n
    for i, row in zip(good_idx, good_rows, strict=True):
        head = header.unpack_from(row)
        if head[-1] != schema.schema_id:
            errors[i] = _describe_bad_row(schema, row)
            continue
        event = head[2]
        if expire_before_us is not None and event < expire_before_us:
            continue
        if event > MAX_EVENT_US:
            errors[i] = _bad_time("event timestamp", event)
            continue
        values = body.unpack_from(row, offset)
        bitmap = values[0]
        tails: list[bytes] | None = None
        row_values: list[tuple[int, Any]] = []
        c = -1
        try:
            for k, c in enumerate(wanted):
                if bitmap[c >> 3] >> (c & 7) & 1:
                    continue
                pos = positions[c]
                if pos is not None:
                    v = values[pos]
                    if kinds[k] == "ts":
                        if not MIN_TS_US <= v <= MAX_EVENT_US:
                            raise ValueError(_bad_time(f"feature {schema.columns[c].name!r}", v))
                        v = datetime.fromtimestamp(v / 1_000_000, tz=UTC)
                else:
                    if tails is None:
                        tails = _split_tails(schema, row)
                    v = _decode_var(schema.columns[c], tails[schema.var_columns.index(c)])
                row_values.append((k, v))
        except (ValueError, OverflowError, OSError) as exc:  # UnicodeDecodeError and JSONDecodeError included
            errors[i] = _bad_value(schema.columns[c].name, exc)
            continue
        present[i] = True
        event_us[i] = event
        for k, v in row_values:
            columns[k][i] = v
    # Few values: flag every float column for the (cheap) JSON-time check instead of scanning here.
    return DecodedRows(columns, present, event_us, errors, set(floats))


def _split_tails(schema: RowSchema, row: bytes) -> list[bytes]:
    """The variable-width parts of a row (after the fixed ``stride`` bytes: u32 little-endian length + bytes per
    variable-width column); the one tail parser of both decoders."""
    pos = schema.stride
    parts: list[bytes] = []
    for _ in schema.var_columns:
        size = int.from_bytes(row[pos : pos + 4], "little")
        parts.append(row[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return parts


def _var_column(
    schema: RowSchema, c: int, rows: list[bytes], cache: dict[int, tuple[list[Any], dict[int, str]]]
) -> tuple[list[Any], dict[int, str]]:
    """Decode variable-width column ``c`` of every row (tails are parsed once per request and cached); returns
    the values and, per row position that could not be decoded, the reason (that value is ``None``)."""
    if not cache:
        parsed_rows = [_split_tails(schema, row) for row in rows]
        for k, ci in enumerate(schema.var_columns):
            col = schema.columns[ci]
            values: list[Any] = []
            failures: dict[int, str] = {}
            for j, parts in enumerate(parsed_rows):
                try:
                    values.append(_decode_var(col, parts[k]) if parts[k] or col.kind != "json" else None)
                except (ValueError, OverflowError) as exc:
                    failures[j] = _bad_value(col.name, exc)
                    values.append(None)
            cache[ci] = (values, failures)
    values, failures = cache[c]
    return list(values), failures


def _bad_time(what: str, us: int) -> str:
    return f"{what} {us} µs is outside the representable range (years 1 to 9999): the stored row is corrupt"


def _bad_value(feature: str, exc: Exception) -> str:
    return f"feature {feature!r} cannot be decoded ({type(exc).__name__}: {exc}): the stored row is corrupt"


def _ts_list(raw: np.ndarray) -> list[datetime | None]:
    return [datetime.fromtimestamp(v / 1_000_000, tz=UTC) for v in raw.tolist()]


def _describe_bad_row(schema: RowSchema, row: bytes) -> str:
    if len(row) < 2:
        return f"value of {len(row)} bytes under a featurekit key is not a packed row"
    if row[0] != FORMAT_VERSION:
        return (
            f"unknown row format version {row[0]} (this reader understands {FORMAT_VERSION}); the bytes are corrupt, "
            f"foreign, or were written by a newer featurekit"
        )
    offset = 18 if row[1] & FLAG_CREATED else 10
    stored_schema = int.from_bytes(row[offset : offset + 2], "big") if len(row) >= offset + 2 else None
    if stored_schema is not None and stored_schema != schema.schema_id:
        return (
            f"row was written with another schema of this feature view (schema id {stored_schema}, expected "
            f"{schema.schema_id}); rematerialize the view"
        )
    return f"row of {len(row)} bytes is not a valid row of this view (expected {schema.stride} bytes)"
