"""Every entity id is checked against its join key's type before a key is built: a value that a numpy cast would
wrap (uint64 beyond Int64, Int64 beyond Int32) would otherwise read or overwrite another entity's row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from featurekit.online_store.errors import SchemaMismatchError
from featurekit.online_store.keyspace import JoinKey, ViewKeyspace
from support.online_store_views import user_rows, user_view

INT64 = ViewKeyspace("p", "v", (JoinKey("user_id", "Int64"),))
INT32 = ViewKeyspace("p", "v", (JoinKey("user_id", "Int32"),))


@pytest.mark.parametrize(
    "values",
    [
        [2**64 - 1] * 16,
        np.array([2**64 - 1] * 16, dtype=np.uint64),
        [1, 2, 2**63],
        [-(2**63) - 1],
    ],
    ids=["list", "uint64-array", "just-past-max", "below-min"],
)
def test_int64_ids_outside_the_type_are_refused_not_wrapped(values):
    with pytest.raises(SchemaMismatchError, match="does not fit Int64"):
        INT64.int_array(values)


def test_int32_keys_are_range_checked_on_every_path():
    with pytest.raises(SchemaMismatchError, match="does not fit Int32"):
        INT32.int_array([2**31])
    with pytest.raises(SchemaMismatchError, match="does not fit Int32"):
        INT32.encode_values([2**31])
    with pytest.raises(SchemaMismatchError, match="does not fit Int32"):
        INT32.encode_columns([np.array([1, 2**31], dtype=np.int64)])


@pytest.mark.parametrize("bad", [True, 1.0, "1", [1], None])
def test_non_integers_are_refused_naming_the_key(bad):
    with pytest.raises(SchemaMismatchError, match=r"'user_id'.*must be an integer"):
        INT64.int_array([1, bad])


def test_valid_ids_pass_through_unchanged():
    assert INT64.int_array([1, -(2**63), 2**63 - 1]).tolist() == [1, -(2**63), 2**63 - 1]
    assert INT64.int_array(np.array([3, 4], dtype=np.uint32)).dtype == np.int64


def test_long_string_keys_are_refused():
    ks = ViewKeyspace("p", "v", (JoinKey("merchant_id", "String"),))
    with pytest.raises(SchemaMismatchError, match="65535"):
        ks.encode_values(["m" * 70_000])


def test_write_arrow_refuses_a_uint64_id_beyond_int64(config, store, now, read_values):
    view = user_view()
    table = user_rows([1, 2], at=now)
    wrapped = table.set_column(0, "user_id", pa.array([1, 2**64 - 1], pa.uint64()))
    with pytest.raises(SchemaMismatchError, match="does not fit Int64"):
        store.write_arrow(config, view, wrapped)
    assert read_values(view, [1, -1]) == [None, None]  # nothing written, user -1 untouched
