"""The tier client for Redis Cluster: the standalone fast path's pre-packed commands, grouped per node by slot.

redis-py's ``RedisCluster`` does what it does well here: node discovery and the slot map (``CLUSTER SLOTS``), plus
the maintenance paths (``SCAN`` on every primary, keyed pipelines for vacuum and sizing). The hot paths (reads,
newer-wins writes, deletes) must not pay redis-py's per-command Python cost (~3 us a command, more than Redis), so
they go through the same lean RESP connections as a standalone tier, one pool per node:

- The slot of every bucket key of a view is computed once, vectorized (``slots.py``: CRC16 is linear),
  so routing a 1,000-entity read is two numpy lookups (bucket -> slot -> node) and one ``bytes.join`` per node.
- Every node's payload is sent before any reply is read, so the nodes work in parallel: one round trip per request.
  Writes keep two batches in flight, as on a standalone server (the next is packed while the nodes run this one).
- The slot map, node pools and redirections live in ``cluster_router.py`` (the base class).
- ``MOVED`` refreshes the slot map and resends the command to its new owner; ``ASK`` resends it once with
  ``ASKING`` to the importing node; ``TRYAGAIN``/``CLUSTERDOWN`` and a node that cannot be reached (a primary
  failing over) refresh the map and resend after a short pause, within about one ``socket_timeout_s``.
  All commands are idempotent (reads, newer-wins writes, deletes), so a resend never double-applies.
- ``NOSCRIPT`` (a promoted replica or a restarted node lacks the script) reloads the scripts and resends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from redis.crc import key_slot

from featurekit.online_store.cluster_router import ClusterRouter, PendingRound, abandon
from featurekit.online_store.connection import Command, RespConnection, pack_command
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.scripts import PUT_NEWER
from featurekit.online_store.slots import (
    Commands,
    field_packer,
    int_packer,
    list_packer,
)
from featurekit.online_store.tier import Acknowledge, RowRequest
from featurekit.online_store.write_batch import WriteBatch

# Rows of write calls sent to the nodes in one round (small calls bound how long a read waits behind one script).
_ROUND_ROWS = 2_000

_SMALL = 16  # up to this many entities per view, a read is routed without numpy


class ClusterTier(ClusterRouter):
    """:class:`~.tier.TierClient` for a Redis Cluster (ElastiCache cluster mode, or self-managed)."""

    loop_native = False  # fetch_async runs the (multi-node, redirect-following) fetch on a worker thread

    @property
    def name(self) -> str:
        return self.settings.tier

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
            table = self.slot_table(keyspace)
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

    async def write_newer_async(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        """On a worker thread: a cluster write spans several nodes' connections and redirections."""
        await asyncio.to_thread(self.write_newer, batches, acknowledged)

    def write_newer(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        """Calls go out in rounds of up to ``_ROUND_ROWS`` rows (each call is already one script per bucket run,
        so a round of small calls holds no node longer than one run), two rounds in flight, as on a standalone
        server: round i+1 is packed and sent before round i's replies are read (on other connections of each node;
        calls hold distinct entities, so their order does not matter to newer-wins)."""
        sha = self._load(PUT_NEWER)
        s = self.settings
        wait = pack_command(("WAIT", s.wait_replicas, s.wait_timeout_ms)) if s.wait_replicas else b""
        pending: tuple[list[WriteBatch], PendingRound] | None = None

        def start(calls: list[WriteBatch]) -> PendingRound:
            groups = [Commands(self.slots_of(c.keyspace, c.buckets), list_packer(c.run_commands(sha))) for c in calls]
            return self._start(groups, wait)

        def finish(done: tuple[list[WriteBatch], PendingRound]) -> None:
            for call, replies in zip(done[0], self._finish(done[1]), strict=True):
                acknowledged(call, replies)

        try:
            calls: list[WriteBatch] = []
            rows = 0
            for batch in batches():
                calls.append(batch)
                rows += len(batch)
                if rows < _ROUND_ROWS:
                    continue
                started = start(calls)
                if pending is not None:
                    done, pending = pending, None
                    finish(done)
                pending, calls, rows = (calls, started), [], 0
            if calls:
                started = start(calls)
                if pending is not None:
                    done, pending = pending, None
                    finish(done)
                pending = (calls, started)
            if pending is not None:
                done, pending = pending, None
                finish(done)
        finally:
            if pending is not None:
                abandon(pending[1].sent)

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
            replies: list[Any] = pipe.execute(raise_on_error=False)
            return replies
        except RedisError as exc:
            raise RedisUnavailableError(f"Redis Cluster command failed for {self.settings.describe()}: {exc}") from exc


__all__ = ["ClusterTier"]
