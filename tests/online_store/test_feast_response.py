"""The wire-built ``GetOnlineFeaturesResponse`` (what ``feast serve`` serializes) equals the message Feast's own
constructors build from the same values: every value type, extremes, nulls, non-finite floats, values a fast
encoder must hand to Feast's conversion, both float paths (per value and numpy), statuses and event times."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from featurekit.online_store.feast_response import (
    response_proto,
    status_entries,
    timestamp_entries,
    value_entries,
    varint,
)

F32_MAX = float(np.finfo(np.float32).max)
LONG = "é" * 40_000  # a length that needs a 3-byte varint
COLUMNS: list[tuple[ValueType, list[Any]]] = [
    (ValueType.DOUBLE, [0.1, -1e300, 0.0, -0.0, None, 5e-324, math.inf, -math.inf, math.nan, 3.0]),
    (ValueType.DOUBLE, [i / 7 - 1.5 for i in range(40)]),  # numpy path
    (ValueType.DOUBLE, [math.nan, -0.0, *(i * 0.5 for i in range(20))]),  # NaN: per value, as missing
    (ValueType.FLOAT, [1.5, F32_MAX, -F32_MAX, 0.0, None, -3.25, 0.1, math.inf, math.nan]),
    (ValueType.FLOAT, [float(np.float32(i / 3)) for i in range(30)]),  # numpy path
    (ValueType.FLOAT, [0.1 * i for i in range(20)]),  # doubles rounded to float32 on both paths
    (ValueType.INT64, [0, 1, -1, 127, 128, 300, 2**63 - 1, -(2**63), None]),
    (ValueType.INT32, [0, 1, -1, 2**31 - 1, -(2**31), None, 16_384]),
    (ValueType.BOOL, [True, False, None, True]),
    (ValueType.STRING, ["", "plain", "nul\x00inside", "é", LONG, None, "x" * 127, "y" * 128]),
    (ValueType.BYTES, [b"", b"\x00\xff", bytes(range(256)) * 3, None]),
    # Types and values that go through Feast's own conversion.
    (ValueType.UNIX_TIMESTAMP, [datetime(2024, 4, 15, 23, 44, 14, tzinfo=UTC), None]),
    (ValueType.DOUBLE_LIST, [[1.0, 2.5], [], None]),
    (ValueType.STRING_LIST, [["a", ""], None]),
    (ValueType.UNKNOWN, [1, 2, 3]),  # an entity column Feast infers the type of
    (ValueType.INT64, [True, 5]),  # a bool where an integer is declared
    (ValueType.DOUBLE, [1, 2.5, *range(20)]),  # integers where floats are declared
    (ValueType.INT64, [np.int64(7), 8]),
    (ValueType.INT32, [2**40]),  # out of range: Feast decides (and raises)
    (ValueType.FLOAT, [1e300]),
    (ValueType.FLOAT, [1e300] * 20),
    (ValueType.BOOL, [np.bool_(True)]),
    (ValueType.STRING, [5]),
]


def feast_built(names, columns, types, present, event_us) -> GetOnlineFeaturesResponse:
    """The response as Feast's constructors (and the previous implementation) build it."""
    response = GetOnlineFeaturesResponse(results=[])
    response.metadata.feature_names.val.extend(names)
    for values, value_type, rows_present, rows_us in zip(columns, types, present, event_us, strict=True):
        statuses = [FieldStatus.PRESENT if p else FieldStatus.NOT_FOUND for p in rows_present]
        stamps = [
            Timestamp(seconds=u // 1_000_000, nanos=(u % 1_000_000) * 1000) if u else Timestamp() for u in rows_us
        ]
        response.results.append(
            GetOnlineFeaturesResponse.FeatureVector(
                values=python_values_to_proto_values(list(values), value_type),
                statuses=statuses,
                event_timestamps=stamps,
            )
        )
    return response


def wire_built(names, columns, types, present, event_us) -> GetOnlineFeaturesResponse:
    info = [
        (status_entries(p, len(v)), timestamp_entries(u, len(v)))
        for v, p, u in zip(columns, present, event_us, strict=True)
    ]
    return response_proto(names, columns, types, info)


def same(a: GetOnlineFeaturesResponse, b: GetOnlineFeaturesResponse) -> None:
    # Canonical bytes: also equal for NaN, which message equality would not be.
    assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)
    assert a.metadata.feature_names.val == b.metadata.feature_names.val


# Every column also as batch 1 (its first value, and a null): the single-value shortcuts.
SINGLES = [(t, v[:1]) for t, v in COLUMNS] + [(t, [None]) for t, _ in COLUMNS]


@pytest.mark.parametrize(
    ("value_type", "values"), COLUMNS + SINGLES, ids=[f"{t.name}-{i}" for i, (t, _) in enumerate(COLUMNS + SINGLES)]
)
def test_every_column_equals_feasts_construction(value_type: ValueType, values: list[Any]) -> None:
    n = len(values)
    present = [v is not None for v in values]
    event_us = [1_700_000_000_123_456 + i for i in range(n)]
    args = (["f"], [values], [value_type], [present], [event_us])
    try:
        expected = feast_built(*args)
    except Exception as exc:  # Feast rejects the value: so must the wire path, with Feast's own error
        with pytest.raises(type(exc)):
            wire_built(*args)
        return
    same(wire_built(*args), expected)


def test_a_whole_response_with_shared_rows_equals_feasts() -> None:
    """Entity column + two views' columns, missing rows, event times at and before the epoch, µs parts."""
    names = ["user_id", "a", "b", "c"]
    columns = [[1, 2, 3, 4], [0.5, None, 2.0, None], ["x", None, "", None], [7, None, -7, None]]
    types = [ValueType.INT64, ValueType.DOUBLE, ValueType.STRING, ValueType.INT64]
    view_present = [True, False, True, False]
    view_us = [1_700_000_000_000_001, None, -1_500_000, 0]
    present = [[True] * 4, view_present, view_present, view_present]
    event_us = [[0] * 4, view_us, view_us, view_us]
    same(wire_built(names, columns, types, present, event_us), feast_built(names, columns, types, present, event_us))


def test_empty_and_long_requests() -> None:
    for n in (0, 1, 300):
        names = [f"f{i}" for i in range(25)]
        columns = [[float(i + k) for k in range(n)] for i in range(25)]
        types = [ValueType.DOUBLE] * 25
        present = [[k % 3 != 0 for k in range(n)]] * 25
        event_us = [[k * 1_000_001 for k in range(n)]] * 25
        same(
            wire_built(names, columns, types, present, event_us),
            feast_built(names, columns, types, present, event_us),
        )


def test_entity_columns_have_present_statuses_and_empty_times() -> None:
    vector = GetOnlineFeaturesResponse.FeatureVector.FromString(
        value_entries([5], ValueType.INT64) + status_entries(None, 1) + timestamp_entries(None, 1)
    )
    assert list(vector.statuses) == [FieldStatus.PRESENT]
    assert vector.event_timestamps[0] == Timestamp()
    assert vector.values[0].int64_val == 5


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16_383, 16_384, 2**63 - 1, -1, -(2**63)])
def test_varint_is_protobufs(value: int) -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    assert varint(value) == _VarintBytes(value & ((1 << 64) - 1))


def test_common_columns_never_reach_feasts_per_value_conversion(monkeypatch) -> None:
    """The point of the module: decoded floats, integers, strings, bytes and bools are written without building
    a ``Value`` per value (Feast's conversion is made to fail here, so a silent fallback would be caught)."""
    from featurekit.online_store import feast_response

    def refuse(*_: Any) -> None:
        raise AssertionError("fell back to Feast's per-value conversion")

    monkeypatch.setattr(feast_response, "python_values_to_proto_values", refuse)
    for value_type, values in COLUMNS[:11]:
        value_entries(values, value_type)


def test_a_stored_nan_is_missing_in_to_dict_and_the_protobuf_as_in_feast() -> None:
    """Feast's conversion makes a NaN float a missing value; the columnar response agrees in both of its views."""
    from feast.feature_server_utils import convert_response_to_dict

    from featurekit.online_store.feast_read import ColumnarOnlineResponse
    from featurekit.online_store.read import ReadColumns
    from featurekit.online_store.row_decode import DecodedRows

    decoded = DecodedRows([[math.nan, 1.5], [2, 3]], [True, True], [1_700_000_000_000_000] * 2, {}, {0})
    read = ReadColumns(
        names=["user_id", "x", "n"],
        values=[[1, 2], [math.nan, 1.5], [2, 3]],
        decoded=[None, decoded, decoded],
        views=[None, "v", "v"],
        json_fix=[False, True, False],
    )
    types = {"user_id": ValueType.INT64, "x": ValueType.DOUBLE, "n": ValueType.INT64}
    response = ColumnarOnlineResponse(read, types)
    assert response.to_dict() == {"user_id": [1, 2], "x": [None, 1.5], "n": [2, 3]}
    assert convert_response_to_dict(response.proto)["results"][1]["values"] == [None, 1.5]
