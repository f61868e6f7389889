"""A stored row that cannot be decoded fails only itself, on both decoder paths (struct for a few rows, numpy for
many): out-of-range event or timestamp-feature times, invalid UTF-8, broken list JSON."""

from __future__ import annotations

import numpy as np
import pytest
from feast.types import Array, Int64, String, UnixTimestamp

from featurekit.online_store.row_decode import decode_rows
from featurekit.online_store.row_format import build_schema, pack_rows

SCHEMA = build_schema([("seen_at", UnixTimestamp), ("name", String), ("tags", Array(Int64)), ("n", Int64)])
EVENT_US = 1_700_000_000_000_000


def _rows(count: int) -> list[bytes]:
    ids = np.arange(count)
    packed = pack_rows(
        SCHEMA,
        np.full(count, EVENT_US, dtype=np.int64),
        None,
        [np.full(count, EVENT_US, dtype=np.int64), [f"u{i}" for i in ids], [[int(i)] for i in ids], ids],
        [np.zeros(count, dtype=bool)] * 4,
    )
    return packed.to_list()


def _set_int(row: bytes, offset: int, value: int, fmt: str) -> bytes:
    return row[:offset] + np.array([value], dtype=fmt).tobytes() + row[offset + np.dtype(fmt).itemsize :]


@pytest.mark.parametrize("count", [4, 40])
def test_each_corrupt_row_is_reported_and_the_others_decode(count):
    rows = _rows(count)
    stride = SCHEMA.stride
    seen_at = SCHEMA.fixed_dtype.fields["c0"][1]
    rows[0] = _set_int(rows[0], 2, 2**63 - 1, ">u8")  # event time far beyond year 9999
    rows[1] = _set_int(rows[1], seen_at, -(2**62), "<i8")  # timestamp feature before year 1
    name_len = int.from_bytes(rows[2][stride : stride + 4], "little")
    rows[2] = rows[2][: stride + 4] + b"\xff" * name_len + rows[2][stride + 4 + name_len :]  # invalid UTF-8
    tags_at = stride + 4 + name_len
    tags_len = int.from_bytes(rows[3][tags_at : tags_at + 4], "little")
    rows[3] = rows[3][: tags_at + 4] + b"[" * tags_len  # broken list JSON
    decoded = decode_rows(SCHEMA, rows, [0, 1, 2, 3])
    assert sorted(decoded.errors) == [0, 1, 2, 3]
    assert "event timestamp" in decoded.errors[0] and "'seen_at'" in decoded.errors[1]
    assert "'name'" in decoded.errors[2] and "'tags'" in decoded.errors[3]
    assert decoded.present == [False] * 4 + [True] * (count - 4)
    assert all(col[:4] == [None] * 4 for col in decoded.columns)
    assert decoded.columns[1][4:] == [f"u{i}" for i in range(4, count)]
    assert decoded.columns[2][4:] == [[i] for i in range(4, count)]
    assert decoded.event_us[4:] == [EVENT_US] * (count - 4)
