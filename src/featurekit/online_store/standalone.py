"""The tier client for one standalone Redis server: pre-packed RESP over a small connection pool.

A read of every view on the tier is one ``bytes.join`` and one socket exchange; a write keeps up to
``_IN_FLIGHT_ROWS`` rows of write calls (at least two calls) in flight on one connection, so the next calls are
built and queued while Redis executes the current one. Every command is
idempotent, so an exchange that fails on a pooled connection (Redis restarted since it was opened) is retried once
on a fresh one; a timeout or a fresh connection's failure is not (a hung Redis costs one ``socket_timeout_s``).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from featurekit.online_store.aio import execute_packed_async
from featurekit.online_store.connection import (
    Command,
    ConnectionSettings,
    RespConnection,
    TierPool,
    pack_command,
    pack_commands,
)
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.fetch import pack_request, split_replies
from featurekit.online_store.scripts import PUT_NEWER
from featurekit.online_store.tier import Acknowledge, RowRequest
from featurekit.online_store.write_batch import WriteBatch

_UNLINK_CHUNK = 1_000
# Rows of write calls a write keeps queued in Redis: small calls (``write_batch_rows``) bound how long a read waits
# behind one, and a window of them keeps Redis busy without a round trip per call.
_IN_FLIGHT_ROWS = 2_000
_PUT_NEWER_SHA = hashlib.sha1(PUT_NEWER.encode()).hexdigest().encode()  # what SCRIPT LOAD answers
_LOAD_PUT_NEWER = pack_command(("SCRIPT", "LOAD", PUT_NEWER))


class StandaloneTier:
    """:class:`~.tier.TierClient` for one standalone Redis (or one ElastiCache replication group's primary)."""

    loop_native = True  # fetch_async is asyncio connections on the running loop

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._pool = TierPool(settings)

    @property
    def name(self) -> str:
        return self.settings.tier

    def execute_packed(self, payload: bytes, count: int) -> list[Any]:
        """Send pre-packed commands, return ``count`` replies (error replies in place)."""
        conn = None
        try:
            with self._pool.connection() as conn:
                return conn.execute(payload, count)
        except RedisUnavailableError as exc:
            if conn is None or not conn.reused or isinstance(exc.__cause__, TimeoutError):
                raise
            with self._pool.connection(fresh=True) as conn:
                return conn.execute(payload, count)

    def fetch(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        counts = [len(r[1]) for r in requests]
        total = sum(counts)
        if not total:
            return [[] for _ in requests]
        payload = b"".join([pack_request(*r) for r in requests])
        return split_replies(self.execute_packed(payload, total), counts)

    async def fetch_async(self, requests: Sequence[RowRequest]) -> list[list[Any]]:
        counts = [len(r[1]) for r in requests]
        total = sum(counts)
        if not total:
            return [[] for _ in requests]
        payload = b"".join([pack_request(*r) for r in requests])
        return split_replies(await execute_packed_async(self.settings, payload, total), counts)

    def write_newer(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        done = 0

        def run(conn: RespConnection) -> None:
            nonlocal done
            sha = self.command("SCRIPT", "LOAD", PUT_NEWER)
            pending: deque[WriteBatch] = deque()
            in_flight = 0
            for batch in batches():
                conn.send(batch.command(sha))
                pending.append(batch)
                in_flight += len(batch)
                # Keep calls queued in Redis until the window is full (and at least two), so Redis never waits for
                # this client between small calls; other clients' reads still interleave per socket read.
                while len(pending) >= 2 and in_flight > _IN_FLIGHT_ROWS:
                    first = pending.popleft()
                    in_flight -= len(first)
                    acknowledged(first, conn.read(1))
                    done += 1
            while pending:
                acknowledged(pending.popleft(), conn.read(1))
                done += 1
            if self.settings.wait_replicas:
                self._wait(conn)

        try:
            with self._pool.connection() as conn:
                run(conn)
        except RedisUnavailableError:
            if done:
                raise
            # Nothing acknowledged: the pooled connection may predate a Redis restart. Retry once, fresh
            # (batches are idempotent under newer-wins).
            with self._pool.connection(fresh=True) as conn:
                run(conn)

    async def write_newer_async(self, batches: Callable[[], Iterable[WriteBatch]], acknowledged: Acknowledge) -> None:
        """Calls go out in exchanges of up to ``_IN_FLIGHT_ROWS`` rows on the loop's connection, each loading the
        script first, so a Redis restarted mid-write never answers ``NOSCRIPT`` and small calls do not cost a round
        trip each; a failed exchange is retried only by :func:`execute_packed_async`'s one fresh connection (the
        caller's error says how far the write got, and newer-wins makes rerunning it safe)."""
        group: list[WriteBatch] = []
        rows = 0
        for batch in batches():
            group.append(batch)
            rows += len(batch)
            if rows >= _IN_FLIGHT_ROWS:
                await self._exchange(group, acknowledged)
                group, rows = [], 0
        if group:
            await self._exchange(group, acknowledged)
        s = self.settings
        if s.wait_replicas:
            (acked,) = await execute_packed_async(s, pack_command(("WAIT", s.wait_replicas, s.wait_timeout_ms)), 1)
            if isinstance(acked, Exception) or int(acked) < s.wait_replicas:
                raise RedisUnavailableError(
                    f"{s.describe()}: the write reached {acked} of wait_replicas={s.wait_replicas} replicas "
                    f"within {s.wait_timeout_ms} ms"
                )

    async def _exchange(self, group: list[WriteBatch], acknowledged: Acknowledge) -> None:
        payload = _LOAD_PUT_NEWER + b"".join(batch.command(_PUT_NEWER_SHA) for batch in group)
        loaded, *replies = await execute_packed_async(self.settings, payload, 1 + len(group))
        if isinstance(loaded, Exception):
            raise OnlineStoreError(f"{self.settings.describe()}: SCRIPT LOAD failed: {loaded}")
        for batch, reply in zip(group, replies, strict=True):
            acknowledged(batch, [reply])

    def _wait(self, conn: RespConnection) -> None:
        s = self.settings
        (acked,) = conn.execute(pack_command(("WAIT", s.wait_replicas, s.wait_timeout_ms)), 1)
        if isinstance(acked, Exception) or int(acked) < s.wait_replicas:
            raise RedisUnavailableError(
                f"{s.describe()}: the write reached {acked} of wait_replicas={s.wait_replicas} replicas "
                f"within {s.wait_timeout_ms} ms"
            )

    def delete(self, keys: Sequence[bytes]) -> int:
        commands: list[Command] = [("UNLINK", *keys[i : i + _UNLINK_CHUNK]) for i in range(0, len(keys), _UNLINK_CHUNK)]
        deleted = 0
        for reply in self.pipeline(commands):
            if isinstance(reply, Exception):
                raise OnlineStoreError(f"deleting keys on {self.settings.describe()}: {reply}")
            deleted += int(reply)
        return deleted

    def scan_keys(self, match: bytes, count: int = 1000) -> Iterator[bytes]:
        cursor: bytes | int = 0
        while True:
            cursor, keys = self.command("SCAN", cursor, "MATCH", match, "COUNT", count)
            yield from keys
            if int(cursor) == 0:
                return

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        if not commands:
            return []
        return self.execute_packed(pack_commands(commands), len(commands))

    def command(self, *args: bytes | str | int | float) -> Any:
        (reply,) = self.pipeline([args])
        if isinstance(reply, Exception):
            raise OnlineStoreError(f"Redis {args[0]!s} failed on {self.settings.describe()}: {reply}")
        return reply

    def close(self) -> None:
        self._pool.close()


__all__ = ["StandaloneTier"]
