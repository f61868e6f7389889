"""What only Redis Cluster has: slot routing, redirections (MOVED/ASK), replication acknowledgement and failover.

The whole contract suite already runs on a cluster (``backend`` fixture); these tests change the topology under a
live store object: a slot moved (MOVED), a slot half-way through a migration (ASK), a replica that does not answer
(``wait_replicas`` refuses to acknowledge), a primary killed and its replica promoted (no acknowledged write lost,
reads and writes recover without a new store object).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from redis.crc import key_slot

from featurekit.online_store.errors import RedisUnavailableError
from featurekit.online_store.slots import bucket_slots
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.services.redis_cluster import LocalRedisCluster
from featurekit.services.redis_server import ServiceUnavailableError
from support.online_store_views import repo_config, user_rows, user_view


@pytest.mark.parametrize(
    "prefix", [b"fk\x01\x02\x03\x04", b"fk{ab", b"fk{}ab", b"f{a}bc", b"fk\x00\x00\x00\x00", b"\xff" * 6]
)
def test_bucket_slots_equal_redis_key_slot(prefix):
    count = 1 << 14  # covers bucket bytes holding "{" and "}" (possible hash tags inside the suffix)
    expected = [key_slot(prefix + b.to_bytes(3, "big")) for b in range(count)]
    assert bucket_slots(prefix, count).tolist() == expected
    sample = random.Random(1).sample(range(count), 50)
    big = bucket_slots(prefix, 1 << 22)
    assert [int(big[b]) for b in sample] == [key_slot(prefix + b.to_bytes(3, "big")) for b in sample]


@pytest.fixture(scope="module")
def ha_cluster() -> Iterator[LocalRedisCluster]:
    """3 primaries, each with one replica; short node timeout so a killed primary fails over in seconds."""
    try:
        cluster = LocalRedisCluster.start(replicas={0: 1, 1: 1, 2: 1}, node_timeout_ms=1000)
    except ServiceUnavailableError as exc:
        pytest.fail(f"cannot start a local Redis Cluster with replicas: {exc}")
    with cluster:
        yield cluster


def _values(store, cfg, view, ids) -> list[float | None]:
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(i))]) for i in ids]
    return [v["balance"].float_val if v else None for _ts, v in store.online_read(cfg, view, keys)]


def view_bucket_key(store, cfg, view, entity: int) -> bytes:
    keyspace = store.compiled(cfg, view).keyspace
    return keyspace.bucket_key(keyspace.encode_values([entity])[1])


def _owner(client: redis.RedisCluster, key: bytes) -> redis.Redis:
    node = client.get_node_from_key(key)
    return redis.Redis(host=node.host, port=node.port)


def _other_primary(cluster: LocalRedisCluster, port: int) -> redis.Redis:
    for server in cluster.servers:
        with redis.Redis(port=server.port) as probe:
            if server.port != port and probe.info("replication")["role"] == "master":
                return redis.Redis(port=server.port)
    raise AssertionError("no other primary")


def test_moved_and_ask_are_followed_by_a_store_with_a_stale_slot_map(tmp_path: Path, ha_cluster, now):
    cfg = repo_config(tmp_path, ha_cluster.url, cluster=True)
    store = TieredRedisOnlineStore()
    view = user_view("moving")
    ids = list(range(1, 401))
    store.write_arrow(cfg, view, user_rows(ids, at=now))
    assert _values(store, cfg, view, [7]) == [7 * 1.5]  # the store has its slot map now
    keyspace = store.compiled(cfg, view).keyspace
    field, bucket = keyspace.encode_values([7])
    key = keyspace.bucket_key(bucket)
    slot = key_slot(key)
    client = ha_cluster.client()
    source = _owner(client, key)
    source_port = source.connection_pool.connection_kwargs["port"]
    target = _other_primary(ha_cluster, source_port)
    target_port = target.connection_pool.connection_kwargs["port"]
    source_id, target_id = source.execute_command("CLUSTER", "MYID"), target.execute_command("CLUSTER", "MYID")
    same_slot = [i for i in ids if key_slot(keyspace.bucket_key(keyspace.encode_values([i])[1])) == slot]

    # ASK: the slot is migrating and the key already moved; the source answers ASK, the target needs ASKING.
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    source.execute_command("MIGRATE", "127.0.0.1", target_port, key, 0, 5000)
    with pytest.raises(redis.exceptions.AskError):
        source.hget(key, field)
    assert target.execute_command("ASKING") and target.exists(key) == 1
    assert _values(store, cfg, view, same_slot) == [i * 1.5 for i in same_slot]
    store.write_arrow(cfg, view, user_rows([7], at=now, created=now.replace(year=now.year + 1), balance_offset=1.0))
    assert _values(store, cfg, view, [7]) == [7 * 1.5 + 1.0]

    # MOVED: the migration completes; the store's map still names the source.
    for server in ha_cluster.servers:
        with redis.Redis(port=server.port) as node:
            if node.info("replication")["role"] == "master":
                node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    with pytest.raises(redis.exceptions.MovedError):
        source.hget(key, field)
    assert _values(store, cfg, view, ids) == [i * 1.5 + (1.0 if i == 7 else 0.0) for i in ids]
    store.write_arrow(cfg, view, user_rows(same_slot, at=now.replace(year=now.year + 2), balance_offset=2.0))
    assert _values(store, cfg, view, same_slot) == [i * 1.5 + 2.0 for i in same_slot]
    store.teardown(cfg, [view], [])
    assert client.exists(*keyspace.bucket_keys()) == 0
    for c in (client, source, target):
        c.close()


def test_wait_replicas_refuses_to_acknowledge_a_write_no_replica_has(tmp_path: Path, ha_cluster, now):
    cfg = repo_config(tmp_path, ha_cluster.url, cluster=True, wait_replicas=1, wait_timeout_ms=300)
    store = TieredRedisOnlineStore()
    view = user_view("waited")
    replicas = [server for servers in ha_cluster.replicas.values() for server in servers]
    for server in replicas:
        os.kill(server.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RedisUnavailableError, match=r"reached 0 of wait_replicas=1 replicas within 300 ms"):
            store.write_arrow(cfg, view, user_rows(range(1, 200), at=now))
    finally:
        for server in replicas:
            os.kill(server.process.pid, signal.SIGCONT)
    assert store.write_arrow(cfg, view, user_rows(range(1, 200), at=now)) == 199
    store.teardown(cfg, [view], [])


def test_failover_loses_no_acknowledged_write_and_the_same_store_recovers(tmp_path: Path, ha_cluster, now):
    cfg = repo_config(tmp_path, ha_cluster.url, cluster=True, wait_replicas=1)
    store = TieredRedisOnlineStore()
    view = user_view("failover")
    ids = np.arange(1, 3001)
    store.write_arrow(cfg, view, user_rows(ids, at=now))  # returned: every replica has the rows (WAIT 1)
    assert _values(store, cfg, view, [1, 3000]) == [1.5, 4500.0]
    victim = ha_cluster.primaries[0]
    replica = ha_cluster.replicas[0][0]
    with redis.Redis(port=victim.port) as v:
        assert v.info("replication")["role"] == "master"
    victim.kill()  # SIGKILL: no shutdown, no last-moment sync
    deadline = time.monotonic() + 30
    with redis.Redis(port=replica.port) as r:
        while r.info("replication")["role"] != "master":
            assert time.monotonic() < deadline, "the replica was not promoted within 30 s"
            time.sleep(0.1)
        while r.cluster("info")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "the cluster did not recover within 30 s"
            time.sleep(0.1)
    # The same store object: its slot map and pooled connections still point at the dead primary. A write first
    # (the promoted replica lacks the write script: NOSCRIPT, reloaded, resent), then every row written before the kill.
    # One entity on the promoted primary, which has no replica left: wait_replicas=1 must refuse to acknowledge the
    # write until the node gets a new replica (what an operator or ElastiCache does next); one on another primary.
    on_victim = next(i for i in ids.tolist() if key_slot(view_bucket_key(store, cfg, view, i)) < 16384 // 3)
    elsewhere = next(i for i in ids.tolist() if key_slot(view_bucket_key(store, cfg, view, i)) >= 16384 // 3)
    newer = user_rows([on_victim, elsewhere], at=now.replace(year=now.year + 1), balance_offset=5.0)
    with pytest.raises(RedisUnavailableError, match=r"reached 0 of wait_replicas=1 replicas"):
        store.write_arrow(cfg, view, newer)
    ha_cluster.primaries[0], ha_cluster.replicas[0] = replica, [victim]
    ha_cluster.add_replicas([0], [s.port for s in ha_cluster.servers])
    store.write_arrow(cfg, view, newer)
    got = _values(store, cfg, view, ids.tolist())
    assert got == [float(np.float32(i * 1.5 + (5.0 if i in (on_victim, elsewhere) else 0.0))) for i in ids.tolist()]
    store.close()


def test_the_write_script_is_loaded_once_and_reloaded_after_a_script_flush(tmp_path: Path, redis_cluster, now):
    """``SCRIPT LOAD`` on every primary once per store, not per write (it cost a push three extra round trips);
    a node that lost the script answers ``NOSCRIPT`` and the write reloads it, once, and completes."""
    redis_cluster.flushall()
    cfg = repo_config(tmp_path, redis_cluster.url, cluster=True)
    store = TieredRedisOnlineStore()
    view = user_view("scripted")
    ids = list(range(1, 200))
    store.write_arrow(cfg, view, user_rows(ids, at=now))
    nodes = [redis.Redis(port=server.port) for server in redis_cluster.primaries]
    for node in nodes:
        node.config_resetstat()
    for k in range(1, 4):
        store.write_arrow(cfg, view, user_rows(ids, at=now + timedelta(seconds=k)))
    stats = [node.info("commandstats") for node in nodes]
    assert all(any(name.startswith("cmdstat_evalsha") for name in s) for s in stats)
    assert not any(name.startswith("cmdstat_script") for s in stats for name in s)
    for node in nodes:
        node.script_flush()
        node.config_resetstat()
    store.write_arrow(cfg, view, user_rows(ids, at=now + timedelta(seconds=10), balance_offset=2.0))
    assert _values(store, cfg, view, ids) == [float(np.float32(i * 1.5 + 2.0)) for i in ids]
    # one reload per node for the whole write, not one per command that answered NOSCRIPT (199 of them here)
    assert [node.info("commandstats")["cmdstat_script|load"]["calls"] for node in nodes] == [1, 1, 1]
    store.close()
    for node in nodes:
        node.close()
