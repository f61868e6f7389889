"""Contract tests of the tiered Redis online store against a real redis-server."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from featurekit.online_store.errors import SchemaMismatchError
from featurekit.online_store.row_format import FORMAT_VERSION
from support.online_store_views import user_rows, user_view


def expected(i: int, offset: float = 0.0) -> dict:
    return {
        "balance": float(np.float32(i * 1.5 + offset)),
        "txn_count": i * 3 if i % 5 else None,
        "avg_amount": i / 7.0,
        "segment": f"seg-{i % 4}",
        "is_active": bool(i % 2),
    }


def test_write_then_read_returns_the_values_and_nulls(store, config, read_values, now):
    view = user_view()
    assert store.write_arrow(config, view, user_rows(range(1, 301), at=now)) == 300
    got = read_values(view, [1, 5, 150, 300])
    assert got == [expected(1), expected(5), expected(150), expected(300)]


def test_missing_entities_read_as_none_not_errors(store, config, read_values, write_rows, now):
    view = user_view()
    write_rows(view, user_rows([1, 2], at=now))
    assert read_values(view, [2, 999_999, 1]) == [expected(2), None, expected(1)]


def test_newer_wins_an_older_backfill_does_not_clobber(store, config, read_values, write_rows, now):
    view = user_view()
    write_rows(view, user_rows([1, 2, 3], at=now, balance_offset=100.0))
    # A backfill with older event timestamps for 1..2 and a new entity 4.
    write_rows(view, user_rows([1, 2, 4], at=now - timedelta(hours=1)))
    assert read_values(view, [1, 2, 3, 4]) == [expected(1, 100.0), expected(2, 100.0), expected(3, 100.0), expected(4)]
    # A newer write replaces.
    write_rows(view, user_rows([2], at=now + timedelta(seconds=1), balance_offset=7.0))
    assert read_values(view, [2])[0] == expected(2, 7.0)


def test_created_timestamp_breaks_ties_on_equal_event_time(store, config, read_values, write_rows, now):
    view = user_view()
    write_rows(view, user_rows([1], at=now, created=now, balance_offset=1.0))
    write_rows(view, user_rows([1], at=now, created=now + timedelta(seconds=5), balance_offset=2.0))
    write_rows(view, user_rows([1], at=now, created=now + timedelta(seconds=1), balance_offset=3.0))
    assert read_values(view, [1])[0] == expected(1, 2.0)


def test_newest_row_per_entity_wins_within_one_table(store, config, read_values, now):
    view = user_view()
    table = pa.concat_tables(
        [
            user_rows([1, 2], at=now - timedelta(minutes=5), balance_offset=1.0),
            user_rows([1], at=now, balance_offset=2.0),
            user_rows([2], at=now - timedelta(minutes=9), balance_offset=3.0),
        ]
    )
    assert store.write_arrow(config, view, table) == 4
    assert read_values(view, [1, 2]) == [expected(1, 2.0), expected(2, 1.0)]


def test_overlapping_backfill_mixes_newer_and_older_rows_in_one_bucket(store, config, read_values, write_rows, now):
    """The slow path of the script: a bucket holds rows newer than part of the incoming batch."""
    view = user_view(extra_tags={"online_bucket_bits": "1"})  # 2 buckets: every batch overlaps
    ids = list(range(1, 201))
    write_rows(view, user_rows(ids[::2], at=now, balance_offset=50.0))
    write_rows(view, user_rows(ids, at=now - timedelta(minutes=1)))
    got = read_values(view, ids)
    assert got == [expected(i, 50.0) if (i - 1) % 2 == 0 else expected(i) for i in ids]


def test_view_ttl_is_applied_per_view(store, config, read_values, write_rows, redis_client, now):
    short = user_view("short_lived", ttl=timedelta(seconds=3))
    long = user_view("long_lived", ttl=timedelta(days=1))
    at = now - timedelta(seconds=1)
    write_rows(short, user_rows([1], at=at))
    write_rows(long, user_rows([1], at=at))
    view = store.compiled(config, short)
    _, bucket = view.keyspace.encode_values([1])
    expire_ms = redis_client.pexpiretime(view.keyspace.bucket_key(bucket))
    assert abs(expire_ms - (at.timestamp() + 3) * 1000) < 5
    # A row already past the ttl is not written at all.
    write_rows(short, user_rows([2], at=now - timedelta(seconds=10)))
    assert read_values(short, [1, 2]) == [expected(1), None]
    time.sleep(max(0.0, at.timestamp() + 3.2 - time.time()))
    assert read_values(short, [1]) == [None]
    assert read_values(long, [1]) == [expected(1)]


def test_views_without_ttl_never_expire(store, config, redis_client, now):
    view = user_view("forever", ttl=None)
    store.write_arrow(config, view, user_rows([1], at=now - timedelta(days=3650)))
    compiled = store.compiled(config, view)
    _, bucket = compiled.keyspace.encode_values([1])
    assert redis_client.pttl(compiled.keyspace.bucket_key(bucket)) == -1


def test_teardown_deletes_only_the_removed_view_without_scan(store, config, read_values, write_rows, backend, now):
    keep, drop = user_view("keep_me"), user_view("drop_me", tier="hot")
    write_rows(keep, user_rows(range(1000), at=now))
    write_rows(drop, user_rows(range(1000), at=now))
    dropped = store.compiled(config, drop)
    assert backend.client.exists(*dropped.keyspace.bucket_keys()) > 0
    for node in backend.nodes:
        node.config_resetstat()
    store.update(config, [drop], [keep], [], [], partial=False)
    for node in backend.nodes:
        stats = node.info("commandstats")
        assert "cmdstat_scan" not in stats and "cmdstat_keys" not in stats
    assert backend.client.exists(*dropped.keyspace.bucket_keys()) == 0
    assert read_values(drop, [1, 2]) == [None, None]
    assert read_values(keep, [1, 2]) == [expected(1), expected(2)]
    store.teardown(config, [keep], [])
    assert backend.dbsize() == 0


def test_feast_online_write_batch_uses_the_same_layout(store, config, read_values, now):
    view = user_view()
    rows = []
    for i in (1, 2):
        key = EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=i)])
        values = {
            "balance": Value(float_val=i * 1.5),
            "txn_count": Value(int64_val=i * 3),
            "avg_amount": Value(double_val=i / 7.0),
            "segment": Value(string_val=f"seg-{i % 4}"),
            "is_active": Value(bool_val=bool(i % 2)),
        }
        rows.append((key, values, now, None))
    store.online_write_batch(config, view, rows, progress=None)
    assert read_values(view, [1, 2]) == [expected(1), expected(2)]


def test_tiers_route_views_to_their_own_redis(tmp_path, redis_url, now, read_values, write_rows):
    import redis

    from featurekit.services.redis_server import RedisServer
    from support.online_store_views import repo_config

    with RedisServer.start() as hot:
        cfg = repo_config(tmp_path, hot.url, redis_url)
        hot_view, warm_view = user_view("hot_view", tier="hot"), user_view("warm_view")
        write_rows(hot_view, user_rows([1], at=now), cfg)
        write_rows(warm_view, user_rows([1, 2], at=now), cfg)
        assert redis.Redis.from_url(hot.url).dbsize() == 1
        assert redis.Redis.from_url(redis_url).dbsize() == 2
        assert read_values(hot_view, [1, 2], cfg) == [expected(1), None]
        assert read_values(warm_view, [2], cfg) == [expected(2)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.drop_columns(["user_id"]), "no entity key column 'user_id'"),
        (lambda t: t.set_column(0, "user_id", pa.array([f"u{i}" for i in range(t.num_rows)])), "must be Int64"),
        (lambda t: t.drop_columns(["segment"]), "no column for feature 'segment'"),
        (lambda t: t.drop_columns(["event_ts"]), "no timestamp column 'event_ts'"),
        (lambda t: t.set_column(1, "balance", pa.array(["x"] * t.num_rows)), "'balance' cannot be stored"),
    ],
)
def test_bad_input_fails_naming_the_problem(store, config, now, mutate, message):
    with pytest.raises(SchemaMismatchError, match=message):
        store.write_arrow(config, user_view(), mutate(user_rows([1, 2], at=now)))


def test_wrong_entity_key_type_on_read_names_the_key(store, config, now):
    view = user_view()
    key = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val="abc")])
    with pytest.raises(SchemaMismatchError, match=r"entity key 'user_id'.*must be an integer"):
        store.online_read(config, view, [key])


def test_corrupt_bytes_under_a_key_are_an_error_for_that_key_only(
    store, config, read_values, write_rows, redis_client, now
):
    from featurekit.online_store.row_decode import decode_rows

    view = user_view()
    write_rows(view, user_rows([1, 2, 3], at=now))
    compiled = store.compiled(config, view)
    field, bucket = compiled.keyspace.encode_values([2])
    redis_client.hset(compiled.keyspace.bucket_key(bucket), field, b"\x07not a featurekit row")
    assert read_values(view, [1, 2, 3]) == [expected(1), None, expected(3)]
    rows = [
        redis_client.hget(compiled.keyspace.bucket_key(b), f)
        for f, b in (compiled.keyspace.encode_values([i]) for i in (1, 2, 3))
    ]
    decoded = decode_rows(compiled.schema, rows, [0])
    assert list(decoded.errors) == [1] and "unknown row format version 7" in decoded.errors[1]
    # A newer write replaces foreign bytes.
    write_rows(view, user_rows([2], at=now))
    assert read_values(view, [2]) == [expected(2)]


def test_rows_record_format_version_and_order_key(store, config, redis_client, now):
    view = user_view()
    store.write_arrow(config, view, user_rows([1], at=now, created=now))
    compiled = store.compiled(config, view)
    field, bucket = compiled.keyspace.encode_values([1])
    raw = redis_client.hget(compiled.keyspace.bucket_key(bucket), field)
    assert raw[0] == FORMAT_VERSION and raw[1] == 1  # created flag
    assert int.from_bytes(raw[2:10], "big") == int(now.timestamp() * 1_000_000)


def test_schema_change_is_reported_not_misread(store, config, redis_client, now):
    from feast.types import Float32

    from featurekit.online_store.row_decode import decode_rows
    from featurekit.online_store.row_format import build_schema

    view = user_view()
    store.write_arrow(config, view, user_rows([1], at=now))
    compiled = store.compiled(config, view)
    field, bucket = compiled.keyspace.encode_values([1])
    raw = redis_client.hget(compiled.keyspace.bucket_key(bucket), field)
    other = build_schema([("balance", Float32)], has_created=True)
    decoded = decode_rows(other, [raw], [0])
    assert decoded.present == [False] and "another schema" in decoded.errors[0]


def test_large_batches_decode_missing_and_corrupt_rows_per_key(
    store, config, read_values, write_rows, redis_client, now
):
    """The vectorized path (more than 16 rows) gives the same per-key answers as the small-batch path."""
    view = user_view()
    ids = list(range(1, 41))
    write_rows(view, user_rows(ids, at=now))
    compiled = store.compiled(config, view)
    field, bucket = compiled.keyspace.encode_values([7])
    redis_client.hset(compiled.keyspace.bucket_key(bucket), field, b"\x01" + b"\x00" * 60)
    asked = [*ids, 10_000]
    got = read_values(view, asked)
    assert got == [None if i in (7, 10_000) else expected(i) for i in asked]
    assert got[:5] == [r for r in (read_values(view, [i])[0] for i in range(1, 6))]


def test_compound_string_and_int_join_keys(store, config, now):
    from feast import Entity, FeatureView, Field, ValueType
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.types import Float32, Int64, String

    from support.online_store_views import SOURCE, USER

    merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)
    view = FeatureView(
        name="user_merchant",
        entities=[USER, merchant],
        ttl=timedelta(days=1),
        schema=[
            Field(name="user_id", dtype=Int64),
            Field(name="merchant_id", dtype=String),
            Field(name="spend", dtype=Float32),
        ],
        source=SOURCE,
    )
    table = pa.table(
        {
            "user_id": pa.array([1, 1, 2], pa.int64()),
            "merchant_id": ["m1", "m2", "m1"],
            "spend": pa.array([1.5, 2.5, 3.5], pa.float32()),
            "event_ts": pa.array([now] * 3, pa.timestamp("us", tz="UTC")),
        }
    )
    assert store.write_arrow(config, view, table) == 3

    def key(u: int, m: str) -> EntityKey:
        return EntityKey(join_keys=["user_id", "merchant_id"], entity_values=[Value(int64_val=u), Value(string_val=m)])

    rows = store.online_read(config, view, [key(1, "m2"), key(2, "m1"), key(2, "m2")])
    assert [r[1]["spend"].float_val if r[1] else None for r in rows] == [2.5, 3.5, None]


def test_vacuum_reclaims_expired_rows_in_live_buckets(store, config, read_values, write_rows, redis_client, now):
    view = user_view("vacuumed", ttl=timedelta(hours=1), extra_tags={"online_bucket_bits": "2"})
    write_rows(view, user_rows(range(1, 101), at=now - timedelta(minutes=50)))
    write_rows(view, user_rows(range(101, 201), at=now))  # keeps every bucket alive
    compiled = store.compiled(config, view)
    before = sum(redis_client.hlen(k) for k in compiled.keyspace.bucket_keys())
    in_20_min = int((now + timedelta(minutes=20)).timestamp() * 1_000_000)
    assert store.vacuum(config, view, now_us=in_20_min) == 100  # rows 1..100 are past the ttl by then
    after = sum(redis_client.hlen(k) for k in compiled.keyspace.bucket_keys())
    assert before - after == 100
    assert read_values(view, [1, 150]) == [None, expected(150)]
    assert store.vacuum(config, view, now_us=in_20_min) == 0
