"""Feast's ``GetOnlineFeaturesResponse`` built as protobuf wire bytes and parsed once in C.

``feast serve`` turns every response into JSON through ``response.proto``. Building that protobuf the usual way
costs one Python-level message construction per value (``Value(double_val=...)``), per column
(``FeatureVector``) and per row and view (``Timestamp``): at batch 1 with 20 features that was about half of the
store's whole per-request CPU. Here the response is written directly in protobuf's wire format, a few byte-string
operations per value (struct packing or numpy for whole float columns), and handed to upb's C parser in one
``FromString`` call. The wire format is protobuf's stable encoding, so the parsed message is exactly the one the
message constructors would have built; types without a short encoding here (lists, maps, timestamps, ...) and
values a fast encoder rejects go through Feast's own ``python_values_to_proto_values`` and are serialized as is.
``tests/online_store/test_feast_response.py`` checks equality with Feast's construction for every value type.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, cast

import numpy as np
from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

_MASK64 = (1 << 64) - 1
_PRESENT, _NOT_FOUND = 1, 3  # feast.serving.FieldStatus
_EMPTY_VALUE = b"\x0a\x00"  # FeatureVector.values entry holding an empty Value (a missing feature)
_EMPTY_TS = b"\x1a\x00"  # FeatureVector.event_timestamps entry holding Timestamp() (no event time)
_VECTOR_FROM = 16  # float columns at least this long (and without nulls) are packed with numpy

_pack_d = struct.Struct("<d").pack
_pack_f = struct.Struct("<f").pack


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of ``value`` (negative values as their 64-bit two's complement, as protobuf does)."""
    value &= _MASK64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [varint(i) for i in range(256)]  # lengths of short messages: no call per entry


def _length(size: int) -> bytes:
    return _SMALL[size] if size < 256 else varint(size)


# Each encoder returns the concatenated ``FeatureVector.values`` entries (field 1, length-delimited ``Value``) of a
# column. It accepts only the exact Python type Feast's conversion keeps as is (``float``, ``int``, ``str``, ...) and
# raises for anything else (numpy scalars, a bool in an integer column, out-of-range numbers), so that column goes
# through Feast's own conversion, which accepts, converts or rejects it exactly as stock Feast does. Like Feast,
# a NaN float is a missing value (an empty ``Value``).

_NONE = type(None)


def _only(values: Sequence[Any], kind: type) -> None:
    if not set(map(type, values)) <= {kind, _NONE}:
        raise TypeError(f"not all {kind.__name__}")


def _float_column(tag: bytes, width: int, dtype: str, pack: Callable[[float], bytes]) -> Callable[..., bytes]:
    head = b"\x0a" + bytes((width + 1,)) + tag

    def encode(values: Sequence[Any]) -> bytes:
        _only(values, float)
        if len(values) >= _VECTOR_FROM and None not in values:
            arr = np.asarray(values, dtype="<f8")
            if not np.isnan(arr).any():
                with np.errstate(over="raise"):  # out of float32 range: Feast decides, as struct.pack raises
                    packed = arr.astype(dtype)
                out = np.empty((len(values), len(head) + width), dtype=np.uint8)
                out[:, : len(head)] = np.frombuffer(head, np.uint8)
                out[:, len(head) :] = packed.view(np.uint8).reshape(-1, width)
                return out.tobytes()
        return b"".join([_EMPTY_VALUE if v is None or v != v else head + pack(v) for v in values])

    return encode


_doubles = _float_column(b"\x29", 8, "<f8", _pack_d)  # Value.double_val: field 5, 64-bit
_floats = _float_column(b"\x35", 4, "<f4", _pack_f)  # Value.float_val: field 6, 32-bit


def _ints(tag: bytes, low: int, high: int) -> Callable[[Sequence[Any]], bytes]:
    def encode(values: Sequence[Any]) -> bytes:
        parts = []
        for v in values:
            if v is None:
                parts.append(_EMPTY_VALUE)
                continue
            if type(v) is not int or not low <= v < high:
                raise TypeError(v)
            body = tag + varint(v)
            parts.append(b"\x0a" + _SMALL[len(body)] + body)
        return b"".join(parts)

    return encode


def _bools(values: Sequence[Any]) -> bytes:
    parts = []
    for v in values:
        if v is None:
            parts.append(_EMPTY_VALUE)
        elif v is True:
            parts.append(b"\x0a\x02\x38\x01")
        elif v is False:
            parts.append(b"\x0a\x02\x38\x00")
        else:
            raise TypeError(v)
    return b"".join(parts)


def _lengthed(tag: bytes, kind: type) -> Callable[[Sequence[Any]], bytes]:
    def encode(values: Sequence[Any]) -> bytes:
        if kind is bytes and not any(values):
            raise ValueError("no non-empty bytes")  # Feast then makes every value null: its conversion decides
        parts = []
        for v in values:
            if v is None:
                parts.append(_EMPTY_VALUE)
                continue
            if type(v) is not kind:
                raise TypeError(v)
            raw = cast(str, v).encode() if kind is str else cast(bytes, v)  # the type check above narrows to object
            body = tag + _length(len(raw)) + raw
            parts.append(b"\x0a" + _length(len(body)) + body)
        return b"".join(parts)

    return encode


_ENCODERS: dict[ValueType, Callable[[Sequence[Any]], bytes]] = {
    ValueType.DOUBLE: _doubles,
    ValueType.FLOAT: _floats,
    ValueType.INT64: _ints(b"\x20", -(1 << 63), 1 << 63),
    ValueType.INT32: _ints(b"\x18", -(1 << 31), 1 << 31),
    ValueType.BOOL: _bools,
    ValueType.STRING: _lengthed(b"\x12", str),
    ValueType.BYTES: _lengthed(b"\x0a", bytes),
}


def _one_double(v: Any) -> bytes | None:
    return (b"\x0a\x09\x29" + _pack_d(v) if v == v else _EMPTY_VALUE) if type(v) is float else None


def _one_int64(v: Any) -> bytes | None:
    if type(v) is not int or not -(1 << 63) <= v < 1 << 63:
        return None
    body = b"\x20" + varint(v)
    return b"\x0a" + _SMALL[len(body)] + body


# Batch 1 (most online requests): one value, no list machinery; ``None`` means "not this exact type".
_ONE: dict[ValueType, Callable[[Any], bytes | None]] = {ValueType.DOUBLE: _one_double, ValueType.INT64: _one_int64}


def value_entries(values: Sequence[Any], value_type: ValueType) -> bytes:
    """``FeatureVector.values`` entries of a column, equal to Feast's ``python_values_to_proto_values``."""
    encode = _ENCODERS.get(value_type)
    if len(values) == 1 and encode is not None:
        value = values[0]
        if value is None:
            return _EMPTY_VALUE
        one = _ONE.get(value_type)
        encoded = one(value) if one is not None else None
        if encoded is not None:
            return encoded
    if encode is not None:
        try:
            return encode(values)
        except (TypeError, ValueError, OverflowError, FloatingPointError, AttributeError, struct.error):
            pass
    protos = python_values_to_proto_values(list(values), value_type)
    return cast(bytes, GetOnlineFeaturesResponse.FeatureVector(values=protos).SerializeToString())


def status_entries(present: Sequence[bool] | None, n: int) -> bytes:
    """``FeatureVector.statuses`` (packed): PRESENT, or NOT_FOUND where ``present[i]`` is false."""
    if not n:
        return b""
    if present is None:
        return b"\x12" + _length(n) + bytes((_PRESENT,)) * n
    return b"\x12" + _length(n) + bytes([_PRESENT if p else _NOT_FOUND for p in present])


def timestamp_entries(event_us: Sequence[int | None] | None, n: int) -> bytes:
    """``FeatureVector.event_timestamps``: one ``Timestamp`` per row from µs since the epoch (none: empty)."""
    if event_us is None:
        return _EMPTY_TS * n
    parts = []
    for u in event_us:
        if not u:
            parts.append(_EMPTY_TS)
            continue
        seconds, micros = divmod(u, 1_000_000)
        body = (b"\x08" + varint(seconds) if seconds else b"") + (b"\x10" + varint(micros * 1000) if micros else b"")
        parts.append(b"\x1a" + _SMALL[len(body)] + body)
    return b"".join(parts)


@lru_cache(maxsize=256)
def metadata_entry(names: tuple[str, ...]) -> bytes:
    """``GetOnlineFeaturesResponse.metadata`` with ``feature_names`` (cached: a service sends few name lists)."""
    feature_list = b"".join(b"\x0a" + _length(len(raw)) + raw for raw in (n.encode() for n in names))
    metadata = b"\x0a" + _length(len(feature_list)) + feature_list
    return b"\x0a" + _length(len(metadata)) + metadata


def response_proto(
    names: Sequence[str],
    columns: Sequence[Sequence[Any]],
    value_types: Sequence[ValueType],
    row_info: Sequence[tuple[bytes, bytes]],
) -> GetOnlineFeaturesResponse:
    """The response for output columns ``names`` with their ``values`` and ``value_types``; ``row_info[i]`` is the
    pre-encoded (statuses, event timestamps) of column i (shared by the columns of one feature view)."""
    parts = [metadata_entry(tuple(names))]
    for values, value_type, (statuses, stamps) in zip(columns, value_types, row_info, strict=True):
        vector = value_entries(values, value_type) + statuses + stamps
        parts.append(b"\x12" + _length(len(vector)) + vector)
    return cast(GetOnlineFeaturesResponse, GetOnlineFeaturesResponse.FromString(b"".join(parts)))
