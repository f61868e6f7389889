"""Feast value types as Arrow types: the one mapping the offline store, the online store and Feast's protobuf rows
share.

Feast's own map (``feast.types.from_feast_to_pyarrow_type``) has no entry for ``Bytes`` (or arrays of it), so a
``Bytes`` feature written through ``write_to_online_store``, ``push`` or ``materialize`` failed before it reached the
store. Here every Feast primitive type the kit stores, and an array of each, has exactly one Arrow type; timestamps
are microseconds in UTC, like every other timestamp in the kit. Anything else (maps, structs, sets) fails naming the
feature's type and what is supported, when the view is applied rather than when the first row arrives.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from feast import types as ft

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
}


class UnsupportedFeastTypeError(TypeError):
    """A Feast type with no Arrow form in the kit (maps, structs, sets, the newer specialised primitives)."""


def supported_types() -> list[Any]:
    """Every Feast type the kit stores: each primitive and an array of each, in a stable order."""
    return [*PRIMITIVES, *(ft.Array(t) for t in PRIMITIVES)]


def arrow_type(feast_type: Any) -> pa.DataType:
    """The Arrow type of a Feast type: a ``feast.types`` object, its name (``"Array(Bytes)"``) or its enum name
    (``"BYTES"``)."""
    if isinstance(feast_type, str):
        found = [t for t in supported_types() if feast_type in (str(t), getattr(t, "name", None))]
        if found:
            return arrow_type(found[0])
    elif isinstance(feast_type, ft.Array) and feast_type.base_type in PRIMITIVES:
        return pa.list_(PRIMITIVES[feast_type.base_type])
    elif isinstance(feast_type, ft.PrimitiveFeastType) and feast_type in PRIMITIVES:
        return PRIMITIVES[feast_type]
    raise UnsupportedFeastTypeError(
        f"Feast type {feast_type} is not supported by featurekit (supported: "
        f"{', '.join(str(t) for t in PRIMITIVES)} and an Array of each)"
    )
