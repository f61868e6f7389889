"""The packed row: how one feature view's values for one entity are stored in Redis.

Format version 1 (all integers unsigned unless noted)::

    offset  size  field
    0       1     format version (1)
    1       1     flags: bit 0 set = a created timestamp follows the event timestamp
    2       8     event timestamp, microseconds since the epoch, big-endian
    10      8     created timestamp, microseconds since the epoch, big-endian (only when flag bit 0 is set)
    +0      2     schema id, big-endian: crc32 of the view's "name:type" list (+ created flag), low 16 bits
    +2      B     null bitmap, B = ceil(features / 8); bit i (LSB first) set = feature i is null
    +2+B    F     fixed-width values in the view's feature order, little-endian (null slots are zero)
    ...           for each variable-width feature in order: u32 little-endian length, then the bytes
                  (String: UTF-8; Bytes: as is; Array(Bytes): each item as u32 length + bytes;
                  Array(UnixTimestamp): int64 µs little-endian; other arrays: JSON)

Why this shape: the *order key* (event timestamp, then created timestamp) sits big-endian right after the version
and flags bytes in every format version, so the newer-wins Lua script compares rows as byte strings without knowing
the feature schema. The fixed-width part has the same stride for every row of a view, so a whole batch packs and
decodes with one numpy structured array (no per-value work in Python). The created timestamp is stored only for
views whose source has one (8 bytes per row saved otherwise). The schema id makes a row written under another view
schema detectable instead of silently misread. A later format bumps byte 0 and adds a decoder; version 1 rows stay
readable.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from featurekit.online_store.errors import UnsupportedFeatureTypeError

FORMAT_VERSION = 1
FLAG_CREATED = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The instants a ``datetime`` can hold (0001-01-01 .. 9999-12-31T23:59:59.999999Z), in µs since the epoch: a stored
# time outside them is corruption, reported for that row instead of failing the batch when it is formatted.
MIN_TS_US = -62_135_596_800_000_000
MAX_EVENT_US = 253_402_300_799_999_999

# Feast primitive type name -> (kind, numpy dtype of the stored value). "var" kinds are length-prefixed bytes.
_FIXED_KINDS: dict[str, str] = {
    "Int32": "<i4",
    "Int64": "<i8",
    "Float32": "<f4",
    "Float64": "<f8",
    "Bool": "?",
    "UnixTimestamp": "<i8",
}
# JSON, UUID and decimal values are stored as their text (Feast turns them back into objects when reading).
_VAR_KINDS = {"String": "str", "Bytes": "bytes", "PdfBytes": "bytes", "ImageBytes": "bytes"}
_VAR_KINDS |= {"Json": "str", "Uuid": "str", "TimeUuid": "str", "Decimal": "str"}
_LIST_ITEMS = {"Int32", "Int64", "Float32", "Float64", "Bool", "String", "Json", "Uuid", "TimeUuid", "Decimal"}
# Arrays JSON cannot hold exactly: bytes as u32-length-prefixed items, timestamps as int64 µs little-endian.
_BINARY_LISTS = {"Bytes": "bytes_list", "UnixTimestamp": "ts_list"}


@dataclass(frozen=True)
class ColumnSpec:
    """One feature's storage: name, Feast type name, and how it is encoded."""

    name: str
    feast_type: str
    kind: str  # "fixed", "str", "bytes", "json" (lists), "ts" (UnixTimestamp, fixed int64 µs), "bytes_list", "ts_list"
    np_dtype: str | None = None


def column_spec(name: str, dtype: Any) -> ColumnSpec:
    """Map a Feast dtype (``feast.types.*``) to its packed encoding, or fail naming the feature and type."""
    type_name = str(dtype)
    base = type_name
    if base == "UnixTimestamp":
        return ColumnSpec(name, base, "ts", "<i8")
    if base in _FIXED_KINDS:
        return ColumnSpec(name, base, "fixed", _FIXED_KINDS[base])
    if base in _VAR_KINDS:
        return ColumnSpec(name, base, _VAR_KINDS[base])
    item = str(getattr(dtype, "base_type", ""))
    if type_name.startswith("Array(") and item in _LIST_ITEMS:
        return ColumnSpec(name, type_name, "json")
    if type_name.startswith("Array(") and item in _BINARY_LISTS:
        return ColumnSpec(name, type_name, _BINARY_LISTS[item])
    raise UnsupportedFeatureTypeError(
        f"feature {name!r} has type {type_name}, which the featurekit online store does not encode "
        f"(supported: {', '.join(sorted([*_FIXED_KINDS, *_VAR_KINDS]))} and Array of "
        f"{', '.join(sorted([*_LIST_ITEMS, *_BINARY_LISTS]))})"
    )


@dataclass(frozen=True)
class RowSchema:
    """The compiled packed layout of one feature view (built once per view, reused for every batch)."""

    columns: tuple[ColumnSpec, ...]
    has_created: bool
    schema_id: int
    bitmap_size: int
    fixed_dtype: np.dtype
    var_columns: tuple[int, ...]
    index: dict[str, int] = field(default_factory=dict)
    # struct codecs for small batches (one C call per row instead of numpy per-call overhead)
    header_struct: struct.Struct = field(default=struct.Struct(">BBQH"))
    body_struct: struct.Struct = field(default=struct.Struct("<"))
    body_positions: tuple[int | None, ...] = ()

    @property
    def stride(self) -> int:
        """Bytes of the fixed part (header, bitmap, fixed-width values) of every row."""
        return self.fixed_dtype.itemsize

    @property
    def fixed_only(self) -> bool:
        return not self.var_columns


def build_schema(features: Sequence[tuple[str, Any]], *, has_created: bool = False) -> RowSchema:
    """Compile the layout for ``[(feature name, feast dtype), ...]`` in the view's declared order."""
    columns = tuple(column_spec(name, dtype) for name, dtype in features)
    signature = ";".join(f"{c.name}:{c.feast_type}" for c in columns) + (";+created" if has_created else "")
    schema_id = zlib.crc32(signature.encode()) & 0xFFFF
    bitmap_size = (len(columns) + 7) // 8
    fields: list[tuple[Any, ...]] = [("version", "u1"), ("flags", "u1"), ("event", ">u8")]
    if has_created:
        fields.append(("created", ">u8"))
    fields += [("schema", ">u2"), ("nulls", "u1", (bitmap_size,))]
    for i, col in enumerate(columns):
        if col.np_dtype is not None:
            fields.append((f"c{i}", col.np_dtype))
    var_columns = tuple(i for i, c in enumerate(columns) if c.np_dtype is None)
    codes = {"<i4": "i", "<i8": "q", "<f4": "f", "<f8": "d", "?": "?"}
    body_format = f"<{bitmap_size}s" + "".join(codes[c.np_dtype] for c in columns if c.np_dtype is not None)
    positions: list[int | None] = []
    k = 1
    for c in columns:
        positions.append(k if c.np_dtype is not None else None)
        k += c.np_dtype is not None
    return RowSchema(
        columns=columns,
        has_created=has_created,
        schema_id=schema_id,
        bitmap_size=bitmap_size,
        fixed_dtype=np.dtype(fields),
        var_columns=var_columns,
        index={c.name: i for i, c in enumerate(columns)},
        header_struct=struct.Struct(">BBQQH" if has_created else ">BBQH"),
        body_struct=struct.Struct(body_format),
        body_positions=tuple(positions),
    )


@dataclass
class PackedRows:
    """A batch of packed rows: the fixed part as one (n, stride) byte matrix plus variable-width tails."""

    fixed: np.ndarray  # uint8, shape (n, stride)
    tails: list[bytes] | None

    def __len__(self) -> int:
        return int(self.fixed.shape[0])

    def to_list(self) -> list[bytes]:
        """Each row as its own ``bytes`` (what goes into a Redis command)."""
        buf = self.fixed.tobytes()
        stride = self.fixed.shape[1] if self.fixed.ndim == 2 else 0
        rows = [buf[i : i + stride] for i in range(0, len(buf), stride)] if stride else []
        if self.tails is not None:
            rows = [r + t for r, t in zip(rows, self.tails, strict=True)]
        return rows


def pack_rows(
    schema: RowSchema,
    event_us: np.ndarray,
    created_us: np.ndarray | None,
    values: Sequence[np.ndarray | list[Any]],
    nulls: Sequence[np.ndarray],
) -> PackedRows:
    """Pack ``n`` rows. ``values[i]`` is column i (numpy array for fixed kinds, list for var kinds) and
    ``nulls[i]`` its boolean null mask. Timestamps are int64 microseconds (non-negative)."""
    n = len(event_us)
    rec = np.zeros(n, dtype=schema.fixed_dtype)
    rec["version"] = FORMAT_VERSION
    rec["event"] = event_us
    if schema.has_created:
        rec["flags"] = FLAG_CREATED
        if created_us is not None:
            rec["created"] = created_us
    rec["schema"] = schema.schema_id
    if schema.columns:
        null_matrix = np.column_stack([np.asarray(m, dtype=bool) for m in nulls]) if n else np.zeros((0, 1), bool)
        rec["nulls"] = np.packbits(null_matrix, axis=1, bitorder="little").reshape(n, schema.bitmap_size)
    for i, col in enumerate(schema.columns):
        if col.np_dtype is not None:
            rec[f"c{i}"] = values[i]
    fixed = rec.view(np.uint8).reshape(n, schema.stride)
    tails = None
    if schema.var_columns:
        tails = []
        var_values = [(schema.columns[i], values[i], nulls[i]) for i in schema.var_columns]
        for r in range(n):
            parts: list[bytes] = []
            for col, vals, mask in var_values:
                payload = b"" if mask[r] else _encode_var(col, vals[r])
                parts.append(len(payload).to_bytes(4, "little"))
                parts.append(payload)
            tails.append(b"".join(parts))
    return PackedRows(fixed=fixed, tails=tails)


def _encode_var(col: ColumnSpec, value: Any) -> bytes:
    if col.kind == "str":
        return value.encode() if isinstance(value, str) else str(value).encode()
    if col.kind == "bytes":
        return bytes(value)
    if col.kind == "bytes_list":
        return b"".join(len(item).to_bytes(4, "little") + bytes(item) for item in value)
    if col.kind == "ts_list":
        return np.array([datetime_to_us(item) for item in value], dtype="<i8").tobytes()
    return orjson.dumps(list(value), option=orjson.OPT_SERIALIZE_NUMPY)


def order_key(event_us: int, created_us: int = 0) -> bytes:
    """The 16-byte comparison key of a row (event then created, big-endian), as the Lua script builds it."""
    return event_us.to_bytes(8, "big") + created_us.to_bytes(8, "big")


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware (or naive = UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)
