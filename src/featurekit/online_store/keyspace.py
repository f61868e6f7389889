"""Where a feature view's rows live in Redis: bucket keys, entity fields, and the bucket function.

Layout: each feature view owns ``2**bucket_bits`` Redis HASH keys (its *buckets*)::

    key   = b"fk" + view_id (4 bytes) + bucket (3 bytes, big-endian)      -> 9 bytes
    field = encoded entity key: 8-byte big-endian int64 (4 for Int32) for one integer join key; otherwise each
            key part (int, UTF-8 string, bytes) prefixed by its u16 big-endian length, so a field is never empty
            (the empty field holds the bucket's newest order key, see ``scripts.py``)
    value = packed row (see :mod:`featurekit.online_store.row_format`)

``view_id`` is the first 4 bytes of blake2b(project NUL view name). The bucket of an entity is a hash of its
encoded key; for integer keys Fibonacci hashing (vectorized with numpy on writes, pure Python on reads), otherwise
crc32. Both are part of the layout contract.

Why buckets and not one STRING key per entity: a Redis 7.0 key costs ~100 B of dict entry, key and object headers
(+ ~40 B with a TTL) before any data, which is more than a packed 20-feature row. Small hashes are stored as
listpacks, where an entry costs its bytes plus ~2-4 B, so memory per entity is dominated by the data. Buckets also
make the keyspace of a view *enumerable* (bucket 0..2**bits-1): teardown deletes exactly those keys without SCAN.

On a Redis Cluster tier (``cluster: true``) a bucket key carries a hash tag in front of the view id::

    key   = b"fk{" + tag (2 bytes) + b"}" + view_id (4 bytes) + bucket (3 bytes)              -> 13 bytes
    slot  = ((bucket << max(0, 14 - bucket_bits)) * 10125) mod 2**14                (``bucket_slot_array``)
    tag   = the 2-byte string, free of "{" and "}", whose CRC16 is that slot (``slot_tags``)

so the slot of a bucket depends on the bucket number and ``bucket_bits`` only, not on the view: the buckets of one
entity in every view with the same bucket function (join key encoding and ``bucket_bits``) share one slot, hence one
node, and a read of N such views is one round trip to one node. Multiplying by an odd number is a permutation of the
14-bit slot numbers, so a view's buckets take the same evenly spaced slots as ``bucket << (14 - bits)`` would
(``2**bits`` of them, or every slot ``2**(bits-14)`` times): nodes holding equal slot ranges hold equal shares of
every view. The multiplier (16384 / golden ratio, odd) scatters *consecutive* buckets over the slot space, so a write
batch (rows sorted by bucket, a run of consecutive buckets) still goes to every node in parallel. The tag comes right
after ``fk`` and the view id (binary, it may hold ``{`` or ``}``) after the tag, so Redis' first ``{`` ... ``}`` is
always the tag. Standalone keys stay the 9-byte layout above (existing data).
"""

from __future__ import annotations

import hashlib
import zlib
from binascii import crc_hqx
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from featurekit.online_store.errors import SchemaMismatchError

KEY_PREFIX = b"fk"
DEFAULT_BUCKET_BITS = 12
MAX_BUCKET_BITS = 22
_FIB = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1

_INT_KEY_TYPES = {"Int64": (">i8", 8), "Int32": (">i4", 4)}
_INT_RANGES = {"Int64": (-(1 << 63), (1 << 63) - 1), "Int32": (-(1 << 31), (1 << 31) - 1)}
MAX_KEY_PART_BYTES = 0xFFFF  # a variable-width key part is prefixed by its u16 length
_VAR_KEY_TYPES = {"String", "Bytes"}
CLUSTER_SLOT_BITS = 14  # Redis Cluster has 2**14 slots
_SLOT_SPREAD = 10125  # odd (a permutation of slot numbers), ~2**14 / golden ratio (consecutive buckets spread out)
STANDALONE_KEY_LENGTH, CLUSTER_KEY_LENGTH = 9, 13
_KEY_TABLE_BITS = 16
_TAG_OPEN, _TAG_CLOSE = b"{", b"}"


def view_id(project: str, view_name: str) -> bytes:
    """Stable 4-byte id of (project, feature view): the key prefix of all the view's buckets."""
    return hashlib.blake2b(f"{project}\0{view_name}".encode(), digest_size=4).digest()


@cache
def slot_tags() -> np.ndarray:
    """Row ``s``: a 2-byte hash tag, without ``{`` or ``}``, that Redis Cluster hashes to slot ``s`` (the lowest
    such 2-byte value). CRC16/XMODEM maps 2-byte strings one-to-one onto 16-bit values, so each slot has four 2-byte
    preimages; one of them is free of braces for every slot (checked here, once)."""
    values = np.arange(1 << 16, dtype=np.uint32)
    hi = np.array([crc_hqx(bytes([v, 0]), 0) for v in range(256)], dtype=np.uint32)
    lo = np.array([crc_hqx(bytes([v]), 0) for v in range(256)], dtype=np.uint32)
    slots = (hi[values >> 8] ^ lo[values & 0xFF]) & ((1 << CLUSTER_SLOT_BITS) - 1)
    braces = np.isin(values >> 8, (0x7B, 0x7D)) | np.isin(values & 0xFF, (0x7B, 0x7D))
    candidates = values[~braces]
    first = np.full(1 << CLUSTER_SLOT_BITS, -1, dtype=np.int64)
    # reversed: the lowest candidate of each slot is written last
    first[slots[~braces][::-1]] = candidates[::-1]
    if (first < 0).any():  # cannot happen for CRC16/XMODEM; a wrong table would silently misroute keys
        raise AssertionError("a Redis Cluster slot has no brace-free 2-byte hash tag")
    return np.stack([first >> 8, first & 0xFF], axis=1).astype(np.uint8)


def bucket_slot_array(bucket_bits: int) -> np.ndarray:
    """The cluster slot of every bucket of a ``bucket_bits`` view in the cluster layout (see the module doc)."""
    return _slots(np.arange(1 << bucket_bits, dtype=np.int64), bucket_bits)


def _slots(buckets: np.ndarray, bucket_bits: int) -> np.ndarray:
    spaced = buckets << max(0, CLUSTER_SLOT_BITS - bucket_bits)
    return (spaced * _SLOT_SPREAD) & ((1 << CLUSTER_SLOT_BITS) - 1)


def view_id_of_key(key: bytes) -> bytes | None:
    """The view id inside a bucket key of either layout, or None for a key not shaped like the store's."""
    if len(key) == STANDALONE_KEY_LENGTH and key.startswith(KEY_PREFIX):
        return key[2:6]
    if len(key) == CLUSTER_KEY_LENGTH and key.startswith(KEY_PREFIX + _TAG_OPEN) and key[5:6] == _TAG_CLOSE:
        return key[6:10]
    return None


@dataclass(frozen=True)
class JoinKey:
    """One join key column of a view and its Feast type name."""

    name: str
    feast_type: str


@dataclass
class ViewKeyspace:
    """Keys and entity-field encoding of one feature view in one project."""

    project: str
    view_name: str
    join_keys: tuple[JoinKey, ...]
    bucket_bits: int = DEFAULT_BUCKET_BITS
    cluster: bool = False  # Redis Cluster layout: a slot hash tag per bucket (see the module doc)
    _bucket_keys: list[bytes] | None = field(default=None, repr=False)
    _key_table: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.bucket_bits <= MAX_BUCKET_BITS:
            raise ValueError(
                f"feature view {self.view_name!r}: bucket bits {self.bucket_bits} outside 1..{MAX_BUCKET_BITS}"
            )
        for jk in self.join_keys:
            if jk.feast_type not in _INT_KEY_TYPES and jk.feast_type not in _VAR_KEY_TYPES:
                raise SchemaMismatchError(
                    f"feature view {self.view_name!r}: join key {jk.name!r} has type {jk.feast_type}; "
                    f"supported join key types are Int64, Int32, String, Bytes"
                )
        self.view_id = view_id(self.project, self.view_name)
        self.prefix = KEY_PREFIX + self.view_id  # the standalone layout's key prefix
        self.int_key = len(self.join_keys) == 1 and self.join_keys[0].feast_type in _INT_KEY_TYPES
        self._shift = 64 - self.bucket_bits
        self._shift32 = 32 - self.bucket_bits if self.bucket_bits <= 32 else 0

    @property
    def bucket_count(self) -> int:
        return 1 << self.bucket_bits

    @property
    def key_length(self) -> int:
        return CLUSTER_KEY_LENGTH if self.cluster else STANDALONE_KEY_LENGTH

    def bucket_keys(self) -> list[bytes]:
        """All bucket keys of the view (what teardown deletes)."""
        if self._bucket_keys is None:
            data = self.key_matrix(np.arange(self.bucket_count, dtype=np.int64)).tobytes()
            n = self.key_length
            self._bucket_keys = [data[i : i + n] for i in range(0, len(data), n)]
        return self._bucket_keys

    def key_matrix(self, buckets: np.ndarray) -> np.ndarray:
        """The bucket key of each of ``buckets`` as one row of a uint8 matrix (vectorized key building). Views of
        up to ``_KEY_TABLE_BITS`` bits keep every key in one matrix (<= 850 kB), so this is one row gather."""
        b = np.asarray(buckets, dtype=np.int64)
        if self._key_table is not None:
            return self._key_table[b]
        if self.bucket_bits <= _KEY_TABLE_BITS:
            self._key_table = self._build_keys(np.arange(self.bucket_count, dtype=np.int64))
            return self._key_table[b]
        return self._build_keys(b)

    def _build_keys(self, b: np.ndarray) -> np.ndarray:
        out = np.empty((len(b), self.key_length), dtype=np.uint8)
        if self.cluster:
            out[:, :3] = np.frombuffer(KEY_PREFIX + _TAG_OPEN, np.uint8)
            out[:, 3:5] = slot_tags()[_slots(b, self.bucket_bits)]
            out[:, 5:10] = np.frombuffer(_TAG_CLOSE + self.view_id, np.uint8)
        else:
            out[:, :6] = np.frombuffer(self.prefix, np.uint8)
        out[:, -3] = (b >> 16) & 0xFF
        out[:, -2] = (b >> 8) & 0xFF
        out[:, -1] = b & 0xFF
        return out

    # ---- single entity (read path, pure Python: cheaper than numpy for small batches) ----

    def encode_values(self, values: Sequence[Any]) -> tuple[bytes, int]:
        """(field, bucket) of one entity given its join key values in ``join_keys`` order."""
        if self.int_key:
            v = values[0]
            if not isinstance(v, int) or isinstance(v, bool):
                v = self._coerce_int(v)
            jk_type = self.join_keys[0].feast_type
            width = 8 if jk_type == "Int64" else 4
            try:
                fld = v.to_bytes(width, "big", signed=True)
            except OverflowError:
                raise self._out_of_range(v) from None
            return fld, (((v & _M64) * _FIB) & _M64) >> self._shift
        fld = self._encode_generic(values)
        return fld, zlib.crc32(fld) >> (32 - self.bucket_bits)

    def int_array(self, values: Any) -> np.ndarray:
        """The single integer join key column as int64, every value checked against the key's type *before* any
        key is built: a bool, float, string, nested list or a value outside Int64/Int32 is refused naming the key
        (a numpy cast would silently wrap it into another entity's key)."""
        jk = self.join_keys[0]
        if isinstance(values, np.ndarray):
            arr = values
            if arr.ndim != 1 or arr.dtype.kind not in "iu":
                raise SchemaMismatchError(
                    f"entity key {jk.name!r} of feature view {self.view_name!r} must be a column of integers "
                    f"({jk.feast_type}), got an array of {arr.dtype}"
                )
        else:
            values = values if isinstance(values, list) else list(values)
            if not set(map(type, values)) <= {int}:
                bad = next(v for v in values if type(v) is not int)
                if isinstance(bad, np.integer) and not isinstance(bad, bool):
                    return self.int_array(np.asarray(values))
                self._coerce_int(bad)
            arr = None
        lo, hi = _INT_RANGES[jk.feast_type]
        size = arr.size if arr is not None else len(values)
        if size:
            seq = arr if arr is not None else values
            low, high = (int(seq.min()), int(seq.max())) if arr is not None else (min(values), max(values))
            if low < lo or high > hi:
                raise self._out_of_range(high if high > hi else low)
        if arr is not None:
            return arr.astype(np.int64, copy=False)
        return np.array(values, dtype=np.int64)

    def _out_of_range(self, v: Any) -> SchemaMismatchError:
        jk = self.join_keys[0]
        return SchemaMismatchError(
            f"entity key {jk.name}={v} of feature view {self.view_name!r} does not fit {jk.feast_type}"
        )

    def _coerce_int(self, v: Any) -> int:
        jk = self.join_keys[0]
        if isinstance(v, np.integer):
            return int(v)
        raise SchemaMismatchError(
            f"entity key {jk.name!r} of feature view {self.view_name!r} must be an integer ({jk.feast_type}), "
            f"got {type(v).__name__} {v!r}"
        )

    def _encode_generic(self, values: Sequence[Any]) -> bytes:
        parts: list[bytes] = []
        for jk, v in zip(self.join_keys, values, strict=True):
            if jk.feast_type in _INT_KEY_TYPES:
                if isinstance(v, bool) or not isinstance(v, int | np.integer):
                    raise SchemaMismatchError(
                        f"entity key {jk.name!r} of feature view {self.view_name!r} must be an integer "
                        f"({jk.feast_type}), got {type(v).__name__} {v!r}"
                    )
                try:
                    part = int(v).to_bytes(_INT_KEY_TYPES[jk.feast_type][1], "big", signed=True)
                except OverflowError:
                    raise SchemaMismatchError(
                        f"entity key {jk.name}={v} of feature view {self.view_name!r} does not fit {jk.feast_type}"
                    ) from None
            elif jk.feast_type == "String":
                if not isinstance(v, str):
                    raise SchemaMismatchError(
                        f"entity key {jk.name!r} of feature view {self.view_name!r} must be a string, "
                        f"got {type(v).__name__} {v!r}"
                    )
                part = v.encode()
            else:
                if not isinstance(v, bytes | bytearray):
                    raise SchemaMismatchError(
                        f"entity key {jk.name!r} of feature view {self.view_name!r} must be bytes, "
                        f"got {type(v).__name__}"
                    )
                part = bytes(v)
            if len(part) > MAX_KEY_PART_BYTES:
                raise SchemaMismatchError(
                    f"entity key {jk.name!r} of feature view {self.view_name!r} is {len(part)} bytes long; "
                    f"the limit is {MAX_KEY_PART_BYTES}"
                )
            parts.append(len(part).to_bytes(2, "big") + part)
        return b"".join(parts)

    # ---- whole columns (write path, vectorized) ----

    def encode_columns(self, columns: Sequence[Any]) -> tuple[list[bytes], np.ndarray]:
        """Fields and buckets for whole join key columns (numpy arrays or lists), one entry per row."""
        if self.int_key:
            dtype, width = _INT_KEY_TYPES[self.join_keys[0].feast_type]
            ints = self.int_array(columns[0])
            buf = ints.astype(dtype).tobytes()
            fields = [buf[i : i + width] for i in range(0, len(buf), width)]
            return fields, self.int_buckets(ints)
        rows = zip(*[list(c) for c in columns], strict=True)
        fields = [self._encode_generic(r) for r in rows]
        shift = 32 - self.bucket_bits
        buckets = np.fromiter((zlib.crc32(f) >> shift for f in fields), dtype=np.int64, count=len(fields))
        return fields, buckets

    def resp_bucket_keys(self) -> list[bytes]:
        """Each bucket key as a RESP bulk string (``$9\\r\\n<key>\\r\\n``), cached for the read path."""
        cached = getattr(self, "_resp_keys", None)
        if cached is None:
            cached = [b"$%d\r\n%s\r\n" % (len(k), k) for k in self.bucket_keys()]
            self._resp_keys = cached
        return cached

    def int_buckets(self, ints: np.ndarray) -> np.ndarray:
        """Buckets of integer keys, vectorized (same Fibonacci hash as :meth:`encode_values`)."""
        with np.errstate(over="ignore"):
            hashed = (np.asarray(ints, dtype=np.int64).view(np.uint64) * np.uint64(_FIB)) >> np.uint64(self._shift)
        return hashed.astype(np.int64)

    def bucket_key(self, bucket: int) -> bytes:
        if self._bucket_keys is not None:
            return self._bucket_keys[bucket]
        return self.key_matrix(np.array([bucket])).tobytes()
