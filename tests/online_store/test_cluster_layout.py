"""The Redis Cluster key layout (``keyspace.py``): an entity's buckets of every view share one slot, the slots are
the ones Redis itself computes, a view's buckets spread evenly over the nodes, and a batch-1 read of several views
is one send to one node. Standalone keys keep their 9-byte layout byte for byte."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
from feast import FeatureStore

from featurekit.online_store.connection import RespConnection
from featurekit.online_store.keyspace import (
    JoinKey,
    ViewKeyspace,
    bucket_slot_array,
    slot_tags,
    view_id,
    view_id_of_key,
)
from featurekit.online_store.slots import SLOTS, keyspace_slots
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.services.redis_cluster import LocalRedisCluster
from support.online_store_views import USER, repo_config, user_rows, user_view

INT = (JoinKey("user_id", "Int64"),)
COMPOUND = (JoinKey("merchant", "String"), JoinKey("user_id", "Int64"))


def _redis_slots(node: redis.Redis, keys: list[bytes]) -> list[int]:
    """``CLUSTER KEYSLOT`` of every key, asked of a real cluster node (pipelined)."""
    pipe = node.pipeline(transaction=False)
    for key in keys:
        pipe.execute_command("CLUSTER", "KEYSLOT", key)
    return [int(s) for s in pipe.execute()]


def _brace_view_names() -> list[str]:
    """View names whose binary view id holds "{" or "}" (the tag must still be the one Redis picks)."""
    found: dict[int, str] = {}
    for i in range(10_000):
        vid = view_id("fktest", f"v{i}")
        for brace in (0x7B, 0x7D):
            if brace in vid and brace not in found:
                found[brace] = f"v{i}"
        if len(found) == 2:
            return list(found.values())
    raise AssertionError("no view id with braces among 10,000 names")


def test_standalone_keys_keep_their_layout_byte_for_byte():
    """Golden bytes (from the layout before the cluster layout existed): existing standalone data stays readable."""
    space = ViewKeyspace("fktest", "user_stats", INT, 12)
    assert space.encode_values([42]) == (b"\x00\x00\x00\x00\x00\x00\x00*", 3921)
    assert space.bucket_key(5) == b"fk\x96\xa6\xa0I\x00\x00\x05"
    assert space.bucket_keys()[4095] == b"fk\x96\xa6\xa0I\x00\x0f\xff"
    assert view_id_of_key(space.bucket_key(7)) == view_id("fktest", "user_stats")


@pytest.mark.parametrize("bits", [1, 6, 12, 14, 16])
def test_cluster_slots_of_every_bucket_equal_redis_cluster_keyslot(redis_cluster: LocalRedisCluster, bits):
    names = ["user_stats", *_brace_view_names()]
    with redis.Redis(port=redis_cluster.primaries[0].port) as node:
        for name in names:
            space = ViewKeyspace("fktest", name, INT, bits, cluster=True)
            keys = space.bucket_keys()
            if len(keys) > 8192:  # bits 16: every slot, plus a sample of the rest
                sample = np.random.default_rng(bits).choice(len(keys), 8192, replace=False)
                keys, expected = [keys[i] for i in sample], keyspace_slots(space)[sample].tolist()
            else:
                expected = keyspace_slots(space).tolist()
            assert _redis_slots(node, keys) == expected, name
            assert all(len(k) == 13 and view_id_of_key(k) == space.view_id for k in keys)


def test_every_slot_has_a_brace_free_tag_redis_hashes_to_it(redis_cluster: LocalRedisCluster):
    tags = slot_tags()
    assert not np.isin(tags, (0x7B, 0x7D)).any()
    keys = [b"{" + bytes(tag) + b"}" for tag in tags]
    with redis.Redis(port=redis_cluster.primaries[1].port) as node:
        assert _redis_slots(node, keys) == list(range(SLOTS))


@pytest.mark.parametrize("join_keys", [INT, COMPOUND], ids=["int", "compound"])
def test_an_entitys_buckets_of_all_views_share_one_slot(redis_cluster: LocalRedisCluster, join_keys):
    spaces = [ViewKeyspace("fktest", name, join_keys, 10, cluster=True) for name in ["a", "b", *_brace_view_names()]]
    entities = [[i] if join_keys == INT else [f"m{i}", i] for i in range(0, 5000, 37)]
    with redis.Redis(port=redis_cluster.primaries[2].port) as node:
        for values in entities:
            keys = [space.bucket_key(space.encode_values(values)[1]) for space in spaces]
            assert len(set(keys)) == len(spaces)  # distinct keys (one per view) ...
            assert len(set(_redis_slots(node, keys))) == 1  # ... on one slot


@pytest.mark.parametrize("nodes", [3, 5, 6])
def test_a_views_buckets_spread_evenly_over_nodes_of_equal_slot_ranges(nodes):
    """Nodes own contiguous, equal slot ranges (``redis-cli --cluster create``, ElastiCache); each view's buckets
    then split between them within one bucket (bits <= 14) or one slot's worth (bits > 14)."""
    owner = np.empty(SLOTS, dtype=np.int64)
    for i in range(nodes):
        owner[i * SLOTS // nodes : (i + 1) * SLOTS // nodes] = i
    for bits in range(1, 23):
        per_node = np.bincount(owner[bucket_slot_array(bits)], minlength=nodes)
        if bits >= 2 and (1 << bits) >= nodes:
            assert per_node.min() > 0, bits
        assert per_node.max() - per_node.min() <= max(1, 1 << max(0, bits - 14)), (bits, per_node.tolist())


@pytest.mark.parametrize("bits", [8, 12, 14, 17, 22])
def test_consecutive_buckets_spread_over_the_nodes(bits):
    """A write batch is a run of consecutive buckets (rows sorted by bucket): it must reach every node, so the
    nodes apply it in parallel (a layout of contiguous slots per bucket range would send it to one node)."""
    owner = np.repeat(np.arange(3), [5461, 5461, 5462])
    slots = bucket_slot_array(bits)
    window = 48
    starts = np.random.default_rng(bits).integers(0, len(slots) - window, 500)
    per_node = np.array([np.bincount(owner[slots[s : s + window]], minlength=3) for s in starts])
    assert per_node.min() >= window // 4, per_node.min()  # every node gets at least a quarter of any run


def test_written_buckets_land_evenly_on_the_real_clusters_primaries(tmp_path: Path, redis_cluster, now):
    redis_cluster.flushall()
    cfg = repo_config(tmp_path, redis_cluster.url, cluster=True)
    store = TieredRedisOnlineStore()
    views = [user_view(name, extra_tags={"online_bucket_bits": "8"}) for name in ("b1", "b2", "b3")]
    for view in views:
        store.write_arrow(cfg, view, user_rows(np.arange(1, 6001), at=now))
    counts = []
    for server in redis_cluster.primaries:
        with redis.Redis(port=server.port) as node:
            counts.append(node.dbsize())
    store.close()
    assert sum(counts) == 3 * 256 and max(counts) - min(counts) <= 3, counts  # 86/85/85 buckets per view


def test_a_batch_1_read_of_three_views_is_one_send_to_one_node(
    tmp_path: Path, redis_cluster: LocalRedisCluster, now, monkeypatch
):
    from featurekit.serving import OnlineFeatureReader

    redis_cluster.flushall()
    cfg = repo_config(tmp_path, redis_cluster.url, cluster=True)
    views = [user_view(name, ttl=timedelta(days=7)) for name in ("v_a", "v_b", "v_c")]
    fs = FeatureStore(config=cfg)
    fs.apply([USER, *views])
    store = TieredRedisOnlineStore()
    for view in views:
        store.write_arrow(cfg, view, user_rows(np.arange(1, 2001), at=now))
    store.close()
    reader = OnlineFeatureReader.from_feature_store(fs)
    refs = [f"{v.name}:balance" for v in views]
    sends: Counter[tuple[str, int]] = Counter()
    original = RespConnection.send

    def counted(self: RespConnection, payload: bytes) -> None:
        sends[(self.settings.host, self.settings.port)] += 1
        original(self, payload)

    try:
        reader.get_online_features(refs, [{"user_id": 1}], full_feature_names=True)  # warm: slot map, pools
        monkeypatch.setattr(RespConnection, "send", counted)
        nodes_touched = set()
        for user in (1, 2, 3, 1000, 1999):
            sends.clear()
            got = reader.get_online_features(refs, [{"user_id": user}], full_feature_names=True).to_dict()
            assert [got[f"{v.name}__balance"] for v in views] == [[user * 1.5]] * len(views)
            assert sum(sends.values()) == 1, (user, dict(sends))
            nodes_touched |= set(sends)
        assert len(nodes_touched) > 1  # different entities do go to different nodes
    finally:
        reader.close()
