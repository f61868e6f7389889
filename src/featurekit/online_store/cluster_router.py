"""Redis Cluster plumbing of :class:`~.cluster.ClusterTier`: the slot map and the per-node exchange.

The slot map comes from redis-py's ``RedisCluster`` (node discovery, ``CLUSTER SLOTS``); the commands go over the
lean RESP connections (one pool per node). A round sends every node its payload before reading any, so nodes work
in parallel; ``MOVED`` re-reads the map and resends, ``ASK`` resends once with ``ASKING`` to the importing node,
``TRYAGAIN``/``CLUSTERDOWN`` and unreachable nodes (a failover) re-read the map and resend after a short pause within
about one ``socket_timeout_s``, ``NOSCRIPT`` reloads the scripts. Every command the store sends is idempotent, so
resending never double-applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from featurekit.online_store.connection import ConnectionSettings, RespConnection, TierPool, pack_command
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.keyspace import ViewKeyspace
from featurekit.online_store.slots import SLOTS, Commands, keyspace_slots

_RETRY_PAUSE_S = 0.05
_MAX_ROUNDS = 16


@dataclass
class _Sent:
    """One node's share of a round: the connection it went out on (or the error), read or not yet."""

    node: int
    items: list[tuple[int, np.ndarray]]
    conn: RespConnection | Exception
    count: int
    done: bool = False


@dataclass
class PendingRound:
    """A round sent and not yet read (see :meth:`ClusterTier._start`)."""

    groups: Sequence[Commands]
    suffix: bytes
    sent: list[_Sent]


def abandon(sent: list[_Sent]) -> None:
    """Close the connections whose replies were never read (they must not go back to a pool)."""
    for entry in sent:
        if not entry.done and isinstance(entry.conn, RespConnection):
            entry.conn.close()
        entry.done = True


class ClusterRouter:
    """Slot map, node pools and the pipelined per-node exchange with redirections (base of ``ClusterTier``)."""

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
        self._bucket_slots: dict[tuple[bytes, int, bool], np.ndarray] = {}  # per view layout: slot of each bucket
        self._scripts: dict[bytes, bytes] = {}  # sha -> source, reloaded on NOSCRIPT
        self._loaded: dict[str, bytes] = {}  # source -> sha, once loaded on every primary

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
        return self.slot_table(keyspace)[np.asarray(buckets, dtype=np.int64)]

    def slot_table(self, keyspace: ViewKeyspace) -> np.ndarray:
        """Slot of every bucket of ``keyspace``, computed once per view layout."""
        layout = (keyspace.prefix, keyspace.bucket_bits, keyspace.cluster)
        table = self._bucket_slots.get(layout)
        if table is None:
            table = self._bucket_slots[layout] = keyspace_slots(keyspace)
        return table

    # ---- the exchange --------------------------------------------------------------------------------------

    def _run(self, groups: Sequence[Commands], *, suffix: bytes = b"") -> list[list[Any]]:
        """Run every group's commands, one pipelined payload per node sent to all nodes before reading; resend
        what was redirected or hit an unreachable node. Replies per group in command order. ``suffix``: one more
        command sent to each node after its payload (``WAIT``), its reply checked by :meth:`_check_wait`."""
        return self._finish(self._start(groups, suffix))

    def _start(self, groups: Sequence[Commands], suffix: bytes = b"") -> PendingRound:
        """Send the first round (pair with :meth:`_finish`; in between the caller may pack its next batch)."""
        todo = [np.arange(len(g.slots)) for g in groups]
        return PendingRound(groups, suffix, self._send(self._route(groups, todo), groups, suffix))

    def _finish(self, pending: PendingRound) -> list[list[Any]]:
        groups, suffix = pending.groups, pending.suffix
        replies: list[list[Any]] = [[None] * len(g.slots) for g in groups]
        deadline = time.monotonic() + max(self.settings.timeout_s, 1.0)
        last_error: Exception | None = None
        sent: list[_Sent] | None = pending.sent
        todo: list[np.ndarray] = []
        for _ in range(_MAX_ROUNDS):
            if sent is None:
                sent = self._send(self._route(groups, todo), groups, suffix)
            retry: list[list[np.ndarray]] = [[] for _ in groups]
            refresh = pause = reload = False
            for items, outcome in self._receive(sent, suffix):
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
                        again, r, p, lost = self._redirected(groups[gi], out, bad)
                        refresh, pause, reload = refresh or r, pause or p, reload or lost
                        if again:
                            retry[gi].append(np.array(again, dtype=np.int64))
            sent = None
            todo = [np.sort(np.concatenate(r)) if r else np.array([], dtype=np.int64) for r in retry]
            if not any(len(t) for t in todo):
                return replies
            if time.monotonic() > deadline:
                break
            if pause:
                time.sleep(_RETRY_PAUSE_S)
            if refresh or reload:
                try:
                    self._refresh()
                    if reload:  # once per round, however many commands answered NOSCRIPT
                        self._reload_scripts()
                except RedisUnavailableError as exc:
                    last_error = exc
        if last_error is not None:
            raise RedisUnavailableError(f"Redis Cluster {self.settings.describe()}: {last_error}") from last_error
        return replies  # redirections that never settled stay in place as errors

    def _route(self, groups: Sequence[Commands], todo: list[np.ndarray]) -> dict[int, list[tuple[int, np.ndarray]]]:
        """Which node gets which commands (per group, indexes in order)."""
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
        if any(node < 0 for node in per_node):
            raise RedisUnavailableError(f"Redis Cluster {self.settings.describe()}: a slot has no node serving it")
        return per_node

    def _send(
        self, per_node: dict[int, list[tuple[int, np.ndarray]]], groups: Sequence[Commands], suffix: bytes
    ) -> list[_Sent]:
        """Send each node its payload (plus ``suffix``, one command); a node that fails keeps its error."""
        sent: list[_Sent] = []
        try:
            for node, items in per_node.items():
                count = sum(len(idx) for _, idx in items)
                try:
                    conn = self._pool(self._nodes[node]).acquire()
                except RedisUnavailableError as exc:
                    sent.append(_Sent(node, items, exc, count))
                    continue
                entry = _Sent(node, items, conn, count)
                sent.append(entry)
                try:
                    conn.send(b"".join([groups[gi].pack(idx) for gi, idx in items]) + suffix)
                except RedisUnavailableError as exc:
                    entry.conn = exc
        except BaseException:
            abandon(sent)
            raise
        return sent

    def _receive(
        self, sent: list[_Sent], suffix: bytes
    ) -> Iterator[tuple[list[tuple[int, np.ndarray]], list[Any] | Exception]]:
        """Each node's replies in turn, or the error that node failed with."""
        extra = 1 if suffix else 0
        try:
            for entry in sent:
                entry.done = True
                if isinstance(entry.conn, Exception):
                    yield entry.items, entry.conn
                    continue
                try:
                    flat = entry.conn.read(entry.count + extra)
                except RedisUnavailableError as exc:
                    yield entry.items, exc
                    continue
                self._pool(self._nodes[entry.node]).release(entry.conn)
                if extra:
                    self._check_wait(self._nodes[entry.node], flat.pop())
                yield entry.items, flat
        finally:
            abandon(sent)

    def _check_wait(self, addr: tuple[str, int], acked: Any) -> None:
        s = self.settings
        if isinstance(acked, Exception) or int(acked) < s.wait_replicas:
            raise RedisUnavailableError(
                f"{s.describe()}: a write to node {addr[0]}:{addr[1]} reached {acked} of "
                f"wait_replicas={s.wait_replicas} replicas within {s.wait_timeout_ms} ms"
            )

    def _redirected(self, group: Commands, out: list[Any], bad: list[int]) -> tuple[list[int], bool, bool, bool]:
        """Handle error replies that mean "not here": returns (indexes to resend, refresh map, pause first, reload
        the scripts). The caller refreshes and reloads once per round: a flushed node answers ``NOSCRIPT`` to every
        command of the round, and a reload per reply cost ~15 ms each (200 rows outlived the retry deadline)."""
        again: list[int] = []
        refresh = pause = reload = False
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
                reload = True
                again.append(i)
        return again, refresh, pause, reload

    def _ask(self, message: str, command: bytes) -> Any:
        """``ASK <slot> <host>:<port>``: the slot is migrating; run this one command on the importing node."""
        host, _, port = message.split(" ")[2].rpartition(":")
        with self._pool((host, int(port))).connection() as conn:
            return conn.execute(pack_command(("ASKING",)) + command, 2)[1]

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
        """The script's sha, loaded on every primary the first time only: a later ``SCRIPT LOAD`` would cost one
        round trip per primary on every write (a push of a few rows paid three). A node that lost it since (a
        restart, a promoted replica: ``SCRIPT LOAD`` is not replicated) answers ``NOSCRIPT``, and
        :meth:`_finish` reloads every script, once per round, and resends."""
        known = self._loaded.get(source)
        if known is not None:
            return known
        sha: bytes = self.command("SCRIPT", "LOAD", source)
        self._scripts[sha] = source.encode()
        self._loaded[source] = sha
        return sha

    def _reload_scripts(self) -> None:
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


__all__ = ["ClusterRouter", "PendingRound", "abandon"]
