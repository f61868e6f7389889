"""Feast value types as Arrow types: the one mapping the offline store, the online store and Feast's protobuf rows
share.

Feast's own map (``feast.types.from_feast_to_pyarrow_type``) has no entry for ``Bytes`` (or arrays of it), so a
``Bytes`` feature written through ``write_to_online_store``, ``push`` or ``materialize`` failed before it reached the
store. Here every Feast primitive type (except maps and zoned timestamps) and an array of each has exactly one Arrow
type; timestamps are microseconds in UTC, like every other timestamp in the kit. Anything else (maps, structs, sets)
fails naming the feature's type and what is supported, when the view is applied rather than when the first row
arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from feast import types as ft
from feast.value_type import ValueType

from featurekit.errors import FeaturekitError

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

# Feast primitive type -> Arrow type of its values.
PRIMITIVES: dict[Any, pa.DataType] = {
    ft.Bytes: pa.binary(),
    ft.String: pa.string(),
    ft.Int32: pa.int32(),
    ft.Int64: pa.int64(),
    ft.Float32: pa.float32(),
    ft.Float64: pa.float64(),
    ft.Bool: pa.bool_(),
    ft.UnixTimestamp: TIMESTAMP_TYPE,
    ft.PdfBytes: pa.binary(),
    ft.ImageBytes: pa.binary(),
    # Stored as text; Feast's Python values are objects (parsed JSON, uuid.UUID, decimal.Decimal).
    ft.Json: pa.string(),
    ft.Uuid: pa.string(),
    ft.TimeUuid: pa.string(),
    ft.Decimal: pa.string(),
}
_AS_TEXT: dict[Any, Callable[[Any], str]] = {
    ft.Json: lambda v: json.dumps(v, ensure_ascii=False),
    ft.Uuid: str,
    ft.TimeUuid: str,
    ft.Decimal: str,
}


class UnsupportedFeastTypeError(FeaturekitError, TypeError):
    """A Feast type with no Arrow form in the kit (maps, scalar maps, structs, sets, zoned timestamps)."""


def _has_array(primitive: Any) -> bool:
    """Whether Feast has an array of ``primitive`` (a ``<TYPE>_LIST`` value type; none for PdfBytes, ImageBytes)."""
    return f"{primitive.to_value_type().name}_LIST" in ValueType.__members__


def supported_types() -> list[Any]:
    """Every Feast type the kit stores: each primitive and each array Feast has of them, in a stable order."""
    return [*PRIMITIVES, *(ft.Array(t) for t in PRIMITIVES if _has_array(t))]


def arrow_type(feast_type: Any) -> pa.DataType:
    """The Arrow type of a Feast type: a ``feast.types`` object, its name (``"Array(Bytes)"``) or its enum name
    (``"BYTES"``)."""
    if isinstance(feast_type, str):
        found = [t for t in supported_types() if feast_type in (str(t), getattr(t, "name", None))]
        if found:
            return arrow_type(found[0])
    elif isinstance(feast_type, ft.Array) and feast_type.base_type in PRIMITIVES and _has_array(feast_type.base_type):
        return pa.list_(PRIMITIVES[feast_type.base_type])
    elif isinstance(feast_type, ft.PrimitiveFeastType) and feast_type in PRIMITIVES:
        return PRIMITIVES[feast_type]
    raise UnsupportedFeastTypeError(
        f"Feast type {feast_type} is not supported by featurekit (supported: "
        f"{', '.join(str(t) for t in PRIMITIVES)} and an Array of each but PdfBytes and ImageBytes)"
    )


def python_values_to_arrow(values: list[Any], feast_type: Any) -> pa.Array:
    """Feast's Python values of one feature (what ``feast_value_type_to_python_type`` returns for its protobuf
    values) as an Arrow array of the feature's type: JSON, UUID and decimal values become their text."""
    base = feast_type.base_type if isinstance(feast_type, ft.Array) else feast_type
    text = _AS_TEXT.get(base) if isinstance(base, ft.PrimitiveFeastType) else None
    if text is not None:
        if isinstance(feast_type, ft.Array):
            values = [None if v is None else [text(item) for item in v] for v in values]
        else:
            values = [None if v is None else text(v) for v in values]
    return pa.array(values, type=arrow_type(feast_type))
