"""Shard planning and assignment: how many shards, every entity in exactly one, and a sharded run recorded only when
every shard of its plan finished. (The mapped DAG run itself: ``tests/orchestration/test_sharded_materialize.py``.)"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from featurekit.config import Settings
from featurekit.intervals import DataInterval
from featurekit.offline.records import latest_record
from featurekit.online_store.keyspace import JoinKey, ViewKeyspace
from featurekit.pipelines.materialize import MaterializeError, MaterializeResult, record_shards
from featurekit.pipelines.shards import MAX_SHARDS, ROWS_PER_SHARD, Shard, shard_buckets, shard_count, shard_rows
from featurekit.repo.rules import shards_tag_is_a_count

DAY = DataInterval(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


def view(**tags: str) -> SimpleNamespace:
    return SimpleNamespace(name="orders_7d", tags=tags)


def test_count_comes_from_the_tag_else_the_validated_rows_capped_by_buckets() -> None:
    assert shard_count(view(), 0, 1024) == 1
    assert shard_count(view(), ROWS_PER_SHARD, 1024) == 1
    assert shard_count(view(), ROWS_PER_SHARD + 1, 1024) == 2
    assert shard_count(view(), 1000 * ROWS_PER_SHARD, 1024) == MAX_SHARDS
    assert shard_count(view(shards="4"), 10, 1024) == 4  # the tag wins over size, both ways
    assert shard_count(view(shards="3"), 1000 * ROWS_PER_SHARD, 1024) == 3
    assert shard_count(view(shards="64"), 10, 16) == 16  # never more shards than buckets


@pytest.mark.parametrize("bad", ["0", "-2", "four", "2.5"])
def test_a_bad_tag_is_refused_naming_view_and_tag(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"feature view 'orders_7d': tag shards={bad!r} must be a positive integer"):
        shard_count(view(shards=bad), 10, 1024)
    assert [rule for rule, _ in shards_tag_is_a_count(None, "feature view", view(shards=bad))] == ["shards-tag"]
    assert list(shards_tag_is_a_count(None, "feature view", view(shards="8"))) == []


def test_shard_forms_and_their_errors() -> None:
    assert Shard.parse("2/4") == Shard.from_dict({"index": 2, "count": 4}) == Shard(2, 4)
    assert Shard(2, 4).to_dict() == {"index": 2, "count": 4} and str(Shard(2, 4)) == "shard 2/4"
    for text in ("4/4", "x/4", "2", "-1/4"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(text)
    for data in ({"index": 0}, {"index": True, "count": 2}, [0, 2], {"index": 0, "count": 0}):
        with pytest.raises(ValueError, match="shard"):
            Shard.from_dict(data)


@pytest.mark.parametrize(
    "join_keys, columns",
    [
        ((JoinKey("user_id", "Int64"),), {"user_id": pa.array(np.arange(-500, 4500), pa.int64())}),
        (
            (JoinKey("merchant", "String"), JoinKey("day", "Int32")),
            {
                "merchant": pa.array([f"m{i % 97}" for i in range(3000)]),
                "day": pa.array(np.arange(3000) // 97, pa.int32()),
            },
        ),
    ],
    ids=["int-key", "compound-key"],
)
def test_every_row_lands_in_exactly_one_shard_which_owns_its_bucket(join_keys, columns) -> None:
    space = ViewKeyspace("proj", "orders_7d", join_keys, bucket_bits=6)
    table = pa.table({**columns, "row": pa.array(np.arange(len(next(iter(columns.values())))))})
    parts = [shard_rows(table, space, Shard(i, 5), "orders_7d") for i in range(5)]
    rows = sorted(r for part in parts for r in part.column("row").to_pylist())
    assert rows == list(range(table.num_rows))  # disjoint and complete
    assert all(part.num_rows for part in parts)
    owned = [set(shard_buckets(space, Shard(i, 5))) for i in range(5)]
    assert sorted(b for o in owned for b in o) == list(range(space.bucket_count))
    for i, part in enumerate(parts):
        keys = [part.column(k.name).to_pylist() for k in join_keys]
        assert {space.encode_values(list(values))[1] for values in zip(*keys, strict=True)} <= owned[i]


def test_null_entity_keys_are_refused_naming_the_column() -> None:
    space = ViewKeyspace("proj", "orders_7d", (JoinKey("user_id", "Int64"),))
    table = pa.table({"user_id": pa.array([1, None], pa.int64())})
    with pytest.raises(ValueError, match="entity key column 'user_id' has null values"):
        shard_rows(table, space, Shard(0, 2), "orders_7d")


def result(index: int, count: int, entities: int, partition: str = "2026-03-01") -> MaterializeResult:
    return MaterializeResult("orders_7d", partition, entities * 2, entities, Shard(index, count))


def test_a_sharded_run_is_recorded_once_every_shard_of_its_plan_finished(settings: Settings) -> None:
    cases = {
        "missing [1], repeated []": [result(0, 3, 5), result(2, 3, 5)],
        "missing [2], repeated [1]": [result(0, 3, 5), result(1, 3, 5), result(1, 3, 5)],
        "do not belong to one plan": [result(0, 2, 5), result(1, 3, 5)],
    }
    for message, results in cases.items():
        with pytest.raises(MaterializeError, match=message.replace("[", r"\[").replace("]", r"\]")):
            record_shards(settings, "orders_7d", DAY, results)
    with pytest.raises(MaterializeError, match="do not belong to one plan"):
        record_shards(settings, "orders_7d", DAY, [result(0, 2, 5, "2026-03-01"), result(1, 2, 5, "2026-03-02")])
    assert latest_record(settings, "orders_7d") is None

    record = record_shards(settings, "orders_7d", DAY, [result(1, 3, 4), result(0, 3, 5), result(2, 3, 6)])
    assert (record.rows, record.entities, record.partition) == (30, 15, "2026-03-01")
    assert latest_record(settings, "orders_7d") == record
