"""The tier client for Redis Cluster: the standalone fast path's pre-packed commands, grouped per node by slot.

redis-py's ``RedisCluster`` does what it does well here: node discovery and the slot map (``CLUSTER SLOTS``), plus
the maintenance paths (``SCAN`` on every primary, keyed pipelines for vacuum and sizing). The hot paths (reads,
newer-wins writes, deletes) must not pay redis-py's per-command Python cost (~3 us a command, more than Redis), so
they go through the same lean RESP connections as a standalone tier, one pool per node:

- The slot of every bucket key of a view is computed once, vectorized (``slots.py``: CRC16 is linear),
  so routing a 1,000-entity read is two numpy lookups (bucket -> slot -> node) and one ``bytes.join`` per node.
- Every node's payload is sent before any reply is read, so the nodes work in parallel: one round trip per request.
- ``MOVED`` refreshes the slot map and resends the command to its new owner; ``ASK`` resends it once with
  ``ASKING`` to the importing node; ``TRYAGAIN``/``CLUSTERDOWN`` and a node that cannot be reached (a primary
  failing over) refresh the map and resend after a short pause, within about one ``socket_timeout_s``.
  All commands are idempotent (reads, newer-wins writes, deletes), so a resend never double-applies.
- ``NOSCRIPT`` (a promoted replica or a restarted node lacks the script) reloads the scripts and resends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from redis.crc import key_slot

from featurekit.online_store.connection import Command, ConnectionSettings, RespConnection, TierPool, pack_command
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.keyspace import ViewKeyspace
from featurekit.online_store.scripts import PUT_NEWER
from featurekit.online_store.slots import (
    SLOTS,
    Commands,
    bucket_slots,
    field_packer,
    int_packer,
    list_packer,
)
from featurekit.online_store.tier import Acknowledge, RowRequest
from featurekit.online_store.write_batch import WriteBatch

_RETRY_PAUSE_S = 0.05
_MAX_ROUNDS = 16
_SMALL = 16  # up to this many entities per view, a read is routed without numpy


class ClusterTier:
    """:class:`~.tier.TierClient` for a Redis Cluster (ElastiCache cluster mode, or self-managed)."""

    def __init__(self, settings: ConnectionSettings) -> None:
        if settings.db:
            raise OnlineStoreError(
                f"online_store.tiers.{settings.tier}: Redis Cluster only has database 0, the url selects {settings.db}"
            )
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()
        self._nodes: list[tuple[str, int]] = []  # every node ever seen; indexes into it are stable
        self._index: dict[tuple[str, int], int] = {}
        self._primaries: list[tuple[str, int]] = []  # the nodes serving slots in the current map
        self._slot_node: np.ndarray | None = None
        self._pools: dict[tuple[str, int], TierPool] = {}
        self._bucket_slots: dict[bytes, np.ndarray] = {}
        self._scripts: dict[bytes, bytes] = {}  # sha -> source, reloaded on NOSCRIPT

    @property
    def name(self) -> str:
        return self.settings.tier

    # ---- topology ------------------------------------------------------------------------------------------

    def _redis(self) -> Any:
        if self._client is None:
            from redis.cluster import RedisCluster

            s = self.settings
            kwargs: dict[str, Any] = {
                "host": s.host,
                "port": s.port,
                "username": s.username,
                "password": s.password,
                "socket_timeout": s.timeout_s,
                "socket_connect_timeout": s.timeout_s,
                "max_connections": s.max_connections,
            }
            if s.tls:
                kwargs.update(ssl=True, ssl_ca_certs=s.ssl_ca_certs, ssl_cert_reqs="required")
            try:
                self._client = RedisCluster(**kwargs)
            except Exception as exc:
                raise RedisUnavailableError(f"cannot connect to Redis Cluster for {s.describe()}: {exc}") from exc
        return self._client

    def _slot_map(self) -> np.ndarray:
        slot_node = self._slot_node
        return slot_node if slot_node is not None else self._refresh()

    def _refresh(self) -> np.ndarray:
        """Re-read the slot map from the cluster (after a redirection, a failed node or on first use)."""
        from redis.exceptions import RedisError

        with self._lock:
            client = self._redis()
            try:
                if self._slot_node is not None:
                    client.nodes_manager.initialize()
            except RedisError as exc:
                raise RedisUnavailableError(f"cannot read the slot map of {self.settings.describe()}: {exc}") from exc
            # Node indexes only ever grow (``_nodes`` is append-only), so a request routed with the previous map
            # still sends to the address it meant while another thread refreshes.
            slot_node = np.full(SLOTS, -1, dtype=np.int64)
            for slot, owners in client.nodes_manager.slots_cache.items():
                if owners:
                    addr = (owners[0].host, int(owners[0].port))
                    index = self._index.get(addr)
                    if index is None:
                        index = self._index[addr] = len(self._nodes)
                        self._nodes.append(addr)
                    slot_node[slot] = index
            self._primaries = [self._nodes[i] for i in np.unique(slot_node[slot_node >= 0]).tolist()]
            self._slot_node = slot_node
            return slot_node

    def _pool(self, addr: tuple[str, int]) -> TierPool:
        pool = self._pools.get(addr)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(addr, TierPool(replace(self.settings, host=addr[0], port=addr[1])))
        return pool

    def slots_of(self, keyspace: ViewKeyspace, buckets: np.ndarray | Sequence[int]) -> np.ndarray:
        """Slot of each bucket of ``keyspace``."""
        table = self._bucket_slots.get(keyspace.prefix)
        if table is None:
            table = self._bucket_slots[keyspace.prefix] = bucket_slots(keyspace.prefix, keyspace.bucket_count)
        return table[np.asarray(buckets, dtype=np.int64)]

    # ---- the exchange --------------------------------------------------------------------------------------

    def _run(self, groups: Sequence[Commands], *, suffix: bytes = b"") -> list[list[Any]]:
        """Run every group's commands, one pipelined payload per node sent to all nodes before reading; resend
        what was redirected or hit an unreachable node. Replies per group in command order. ``suffix``: one more
        command sent to each node after its payload (``WAIT``), its reply checked by :meth:`_check_wait`."""
        replies: list[list[Any]] = [[None] * len(g.slots) for g in groups]
        todo = [np.arange(len(g.slots)) for g in groups]
        deadline = time.monotonic() + max(self.settings.timeout_s, 1.0)
        last_error: Exception | None = None
        for _ in range(_MAX_ROUNDS):
            slot_node = self._slot_map()
            per_node: dict[int, list[tuple[int, np.ndarray]]] = {}
            for gi, idx in enumerate(todo):
                if not len(idx):
                    continue
                nodes = slot_node[groups[gi].slots[idx]]
                first = nodes[0]
                if (nodes == first).all():
                    per_node.setdefault(int(first), []).append((gi, idx))
                    continue
                order = np.argsort(nodes, kind="stable")
                sorted_nodes = nodes[order]
                cuts = np.flatnonzero(sorted_nodes[1:] != sorted_nodes[:-1]) + 1
                for part in np.split(order, cuts):
                    per_node.setdefault(int(nodes[part[0]]), []).append((gi, idx[part]))
            retry: list[list[np.ndarray]] = [[] for _ in groups]
            refresh = pause = False
            for items, outcome in self._exchange(per_node, groups, suffix):
                if isinstance(outcome, Exception):
                    last_error, refresh, pause = outcome, True, True
                    for gi, idx in items:
                        retry[gi].append(idx)
                    continue
                pos = 0
                for gi, idx in items:
                    out = replies[gi]
                    chunk = outcome[pos : pos + len(idx)]
                    pos += len(idx)
                    positions = idx.tolist()
                    list(map(out.__setitem__, positions, chunk))  # scatter at C speed
                    if not any(issubclass(t, Exception) for t in set(map(type, chunk))):
                        continue
                    bad = [i for i, reply in zip(positions, chunk, strict=True) if isinstance(reply, Exception)]
                    if bad:
                        again, r, p = self._redirected(groups[gi], out, bad)
                        refresh, pause = refresh or r, pause or p
                        if again:
                            retry[gi].append(np.array(again, dtype=np.int64))
            todo = [np.sort(np.concatenate(r)) if r else np.array([], dtype=np.int64) for r in retry]
            if not any(len(t) for t in todo):
                return replies
            if time.monotonic() > deadline:
                break
            if pause:
                time.sleep(_RETRY_PAUSE_S)
            if refresh:
                try:
                    self._refresh()
                except RedisUnavailableError as exc:
                    last_error = exc
        if last_error is not None:
            raise RedisUnavailableError(f"Redis Cluster {self.settings.describe()}: {last_error}") from last_error
        return replies  # redirections that never settled stay in place as errors

    def _exchange(
        self, per_node: dict[int, list[tuple[int, np.ndarray]]], groups: Sequence[Commands], suffix: bytes
    ) -> Iterator[tuple[list[tuple[int, np.ndarray]], list[Any] | Exception]]:
        """Send each node its payload (plus ``suffix``, one command), then read each node's replies, or the
        error that node failed with."""
        if any(node < 0 for node in per_node):
            raise RedisUnavailableError(f"Redis Cluster {self.settings.describe()}: a slot has no node serving it")
        extra = 1 if suffix else 0
        sent: list[tuple[int, list[tuple[int, np.ndarray]], RespConnection | Exception, int]] = []
        pending: list[RespConnection] = []
        try:
            for node, items in per_node.items():
                count = sum(len(idx) for _, idx in items)
                try:
                    conn = self._pool(self._nodes[node]).acquire()
                    pending.append(conn)
                    conn.send(b"".join([groups[gi].pack(idx) for gi, idx in items]) + suffix)
                    sent.append((node, items, conn, count))
                except RedisUnavailableError as exc:
                    sent.append((node, items, exc, count))
            for node, items, conn, count in sent:
                if isinstance(conn, Exception):
                    yield items, conn
                    continue
                try:
                    flat = conn.read(count + extra)
                except RedisUnavailableError as exc:
                    yield items, exc
                    continue
                pending.remove(conn)
                self._pool(self._nodes[node]).release(conn)
                if extra:
                    self._check_wait(self._nodes[node], flat.pop())
                yield items, flat
        finally:
            for conn in pending:  # interrupted before its replies were read: never reuse
                conn.close()

    def _check_wait(self, addr: tuple[str, int], acked: Any) -> None:
        s = self.settings
        if isinstance(acked, Exception) or int(acked) < s.wait_replicas:
            raise RedisUnavailableError(
                f"{s.describe()}: a write to node {addr[0]}:{addr[1]} reached {acked} of "
                f"wait_replicas={s.wait_replicas} replicas within {s.wait_timeout_ms} ms"
            )

    def _redirected(self, group: Commands, out: list[Any], bad: list[int]) -> tuple[list[int], bool, bool]:
        """Handle error replies that mean "not here": returns (indexes to resend, refresh map, pause first)."""
        again: list[int] = []
        refresh = pause = False
        for i in bad:
            message = str(out[i])
            kind = message.split(" ", 1)[0]
            if kind == "MOVED":
                again.append(i)
                refresh = True
            elif kind == "ASK":
                out[i] = self._ask(message, group.pack(np.array([i])))
            elif kind in ("TRYAGAIN", "CLUSTERDOWN"):
                again.append(i)
                refresh = pause = True
            elif kind == "NOSCRIPT":
                self._reload_scripts()
                again.append(i)
        return again, refresh, pause

    def _ask(self, message: str, command: bytes) -> Any:
        """``ASK <slot> <host>:<port>``: the slot is migrating; run this one command on the importing node."""
        host, _, port = message.split(" ")[2].rpartition(":")
        with self._pool((host, int(port))).connection() as conn:
            return conn.execute(pack_command(("ASKING",)) + command, 2)[1]

    # ---- TierClient ----------------------------------------------------------------------------------------

    def fetch(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        if all(not isinstance(keys, np.ndarray) and len(keys) <= _SMALL for _, keys, _ in requests):
            got = self._fetch_small(requests)
            if got is not None:
                return got
        groups = []
        for keyspace, keys, buckets in requests:
            arr = np.asarray(buckets, dtype=np.int64)
            if isinstance(keys, np.ndarray):
                groups.append(Commands(self.slots_of(keyspace, arr), int_packer(keyspace, keys, arr)))
            else:
                groups.append(Commands(self.slots_of(keyspace, arr), field_packer(keyspace, keys, arr)))
        return self._run(groups)

    def _fetch_small(self, requests: Sequence[RowRequest]) -> list[list[Any]] | None:
        """A few entities (single-entity serving): route in plain Python, no numpy per request. Returns None when
        anything went wrong (a redirection, a failed node): the general path then redoes the whole read."""
        slot_node = self._slot_map()
        per_node: dict[int, list[bytes]] = {}
        where: dict[int, list[tuple[int, int]]] = {}
        for gi, (keyspace, fields, buckets) in enumerate(requests):
            table = self._bucket_slots.get(keyspace.prefix)
            if table is None:
                table = self._bucket_slots[keyspace.prefix] = bucket_slots(keyspace.prefix, keyspace.bucket_count)
            resp_keys = keyspace.resp_bucket_keys()
            for pos, (field, bucket) in enumerate(zip(fields, buckets, strict=True)):
                node = int(slot_node[table[bucket]])
                per_node.setdefault(node, []).append(
                    b"*3\r\n$4\r\nHGET\r\n%s$%d\r\n%s\r\n" % (resp_keys[bucket], len(field), field)
                )
                where.setdefault(node, []).append((gi, pos))
        if any(node < 0 for node in per_node):
            return None
        out: list[list[Any]] = [[None] * len(r[1]) for r in requests]
        sent: list[tuple[int, RespConnection]] = []
        ok = True
        try:
            for node, commands in per_node.items():
                conn = self._pool(self._nodes[node]).acquire()
                sent.append((node, conn))
                conn.send(b"".join(commands))
            while sent:
                node, conn = sent[0]
                for (gi, pos), reply in zip(where[node], conn.read(len(per_node[node])), strict=True):
                    out[gi][pos] = reply
                    ok = ok and not isinstance(reply, Exception)
                sent.pop(0)
                self._pool(self._nodes[node]).release(conn)
        except RedisUnavailableError:
            return None
        finally:
            for _, conn in sent:  # not read (failed or interrupted): never reuse
                conn.close()
        return out if ok else None

    async def fetch_async(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        return await asyncio.to_thread(self.fetch, requests)

    def write_newer(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        sha = self._load(PUT_NEWER)
        s = self.settings
        wait = pack_command(("WAIT", s.wait_replicas, s.wait_timeout_ms)) if s.wait_replicas else b""
        for batch in batches():
            commands = batch.run_commands(sha)
            slots = self.slots_of(batch.keyspace, batch.buckets)
            (replies,) = self._run([Commands(slots, list_packer(commands))], suffix=wait)
            acknowledged(batch, replies)

    def delete(self, keys: Sequence[bytes]) -> int:
        if not keys:
            return 0
        slots = np.array([key_slot(k) for k in keys], dtype=np.int64)
        (replies,) = self._run([Commands(slots, list_packer([pack_command(("UNLINK", k)) for k in keys]))])
        deleted = 0
        for reply in replies:
            if isinstance(reply, Exception):
                raise OnlineStoreError(f"deleting keys on {self.settings.describe()}: {reply}")
            deleted += int(reply)
        return deleted

    def scan_keys(self, match: bytes, count: int = 1000) -> Iterator[bytes]:
        from redis.exceptions import RedisError

        try:
            yield from self._redis().scan_iter(match=match, count=count)
        except RedisError as exc:
            raise RedisUnavailableError(f"SCAN failed for {self.settings.describe()}: {exc}") from exc

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        if not commands:
            return []
        from redis.exceptions import RedisError

        try:
            pipe = self._redis().pipeline()
            for cmd in commands:
                pipe.execute_command(*cmd)
            return pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise RedisUnavailableError(f"Redis Cluster command failed for {self.settings.describe()}: {exc}") from exc

    def command(self, *args: bytes | str | int | float) -> Any:
        """Run a keyless command on every primary; the first primary's reply. A node that cannot be reached
        (failed over since the map was read) re-reads the map and runs the command again, once."""
        for attempt in (0, 1):
            try:
                return self._on_every_primary(args)
            except RedisUnavailableError:
                if attempt:
                    raise
                self._refresh()
        raise AssertionError("unreachable")

    def _on_every_primary(self, args: tuple[bytes | str | int | float, ...]) -> Any:
        self._slot_map()
        first: Any = None
        for i, addr in enumerate(self._primaries):
            with self._pool(addr).connection() as conn:
                (reply,) = conn.execute(pack_command(args), 1)
            if isinstance(reply, Exception):
                raise OnlineStoreError(f"Redis {args[0]!s} failed on {self.settings.describe()} node {addr}: {reply}")
            if i == 0:
                first = reply
        return first

    def _load(self, source: str) -> bytes:
        sha = self.command("SCRIPT", "LOAD", source)
        self._scripts[sha] = source.encode()
        return sha

    def _reload_scripts(self) -> None:
        self._refresh()
        for source in list(self._scripts.values()):
            self.command("SCRIPT", "LOAD", source)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            client, self._client = self._client, None
            self._slot_node = None
        for pool in pools:
            pool.close()
        if client is not None:
            client.close()


__all__ = ["ClusterTier"]
