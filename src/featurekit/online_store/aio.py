"""Asyncio connections to a standalone tier: pre-packed RESP out, hiredis replies in, on the caller's event loop.

Feast's feature server awaits ``OnlineStore.get_online_features_async`` on its event loop when the store declares
async reads (stock Feast's Redis store does). Reading here without a thread hop keeps ``feast serve`` from paying a
thread-pool round trip per request. Connections are pooled per event loop and per server; a connection whose
exchange failed or was interrupted is dropped, and an exchange that fails on a pooled connection (e.g. Redis
restarted) is retried once on a new one, as the synchronous pool does (reads are idempotent).

Writes (:func:`write_prepared_async`, behind ``online_write_batch_async`` and ``write_arrow_async``) send the same
newer-wins ``EVALSHA`` batches as :func:`featurekit.online_store.writer.write_prepared`, one exchange per batch; each
exchange loads the script first (``SCRIPT LOAD`` is idempotent and the SHA is the script's SHA-1), so a Redis that
restarted between two batches never answers ``NOSCRIPT``. Batches are idempotent under newer-wins, so the one retry
on a fresh connection is safe for them too.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import hiredis

from featurekit.online_store.connection import ConnectionSettings, pack_command, pack_commands, ssl_context
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.scripts import PUT_NEWER

if TYPE_CHECKING:
    from featurekit.online_store.views import CompiledView
    from featurekit.online_store.writer import PreparedRows

_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ConnectionSettings, list[AsyncRespConnection]]] = (
    weakref.WeakKeyDictionary()
)
_READ_CHUNK = 1 << 16


class AsyncRespConnection:
    """One asyncio stream to a standalone Redis (not shared between concurrent tasks: taken from the pool)."""

    def __init__(self, settings: ConnectionSettings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.settings = settings
        self._reader, self._writer = reader, writer
        self._parser = hiredis.Reader()

    @classmethod
    async def open(cls, settings: ConnectionSettings) -> AsyncRespConnection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    settings.host,
                    settings.port,
                    ssl=ssl_context(settings) if settings.tls else None,
                    server_hostname=settings.host if settings.tls else None,
                ),
                settings.timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise RedisUnavailableError(f"cannot connect to Redis for {settings.describe()}: {exc}") from exc
        conn = cls(settings, reader, writer)
        handshake: list[Any] = []
        if settings.password:
            handshake.append(
                ("AUTH", settings.username, settings.password) if settings.username else ("AUTH", settings.password)
            )
        if settings.db:
            handshake.append(("SELECT", settings.db))
        if handshake:
            for reply in await conn.execute(pack_commands(handshake), len(handshake)):
                if isinstance(reply, hiredis.ReplyError):
                    conn.close()
                    raise RedisUnavailableError(f"Redis rejected the connection for {settings.describe()}: {reply}")
        return conn

    async def execute(self, payload: bytes, count: int) -> list[Any]:
        """Send pre-packed commands, return ``count`` replies (error replies in place as ``hiredis.ReplyError``)."""
        try:
            async with asyncio.timeout(self.settings.timeout_s):  # one deadline per exchange, no task per read
                self._writer.write(payload)
                replies: list[Any] = []
                gets = self._parser.gets
                read = self._reader.read
                while len(replies) < count:
                    reply = gets()
                    if reply is False:
                        chunk = await read(_READ_CHUNK)
                        if not chunk:
                            raise ConnectionError("connection closed by the server")
                        self._parser.feed(chunk)
                        continue
                    replies.append(reply)
                return replies
        except (OSError, ConnectionError, TimeoutError) as exc:
            self.close()
            raise RedisUnavailableError(
                f"Redis connection failed for {self.settings.describe()}: {exc or type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        self._writer.close()


async def execute_packed_async(settings: ConnectionSettings, payload: bytes, count: int) -> list[Any]:
    """Run pre-packed commands on a pooled connection of the running loop; one retry on a fresh connection."""
    if not count:
        return []
    pool = _POOLS.setdefault(asyncio.get_running_loop(), {}).setdefault(settings, [])
    for attempt in (0, 1):
        fresh = attempt == 1 or not pool
        conn = await AsyncRespConnection.open(settings) if fresh else pool.pop()
        try:
            replies = await conn.execute(payload, count)
        except RedisUnavailableError:
            if fresh:
                raise
            continue
        except BaseException:  # cancelled mid-exchange: unread replies may follow, never reuse it
            conn.close()
            raise
        if len(pool) < settings.max_connections:
            pool.append(conn)
        else:
            conn.close()
        return replies
    raise AssertionError("unreachable")


def close_loop_connections() -> None:
    """Close the pooled connections of the running event loop (store shutdown inside ``feast serve``)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for pool in _POOLS.pop(loop, {}).values():
        for conn in pool:
            conn.close()


_PUT_NEWER_SHA = hashlib.sha1(PUT_NEWER.encode()).hexdigest().encode()  # what SCRIPT LOAD answers
_LOAD_PUT_NEWER = pack_command(("SCRIPT", "LOAD", PUT_NEWER))


async def write_table_async(
    view: CompiledView,
    settings: ConnectionSettings,
    table: Any,
    *,
    batch_rows: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """The asyncio form of ``TieredRedisOnlineStore.write_arrow`` on a standalone tier: validate and keep the newest
    row per entity (:func:`~featurekit.online_store.writer.prepare`), write, count the write metrics; returns the
    number of input rows handled (rows folded away by dedup or ttl count as handled)."""
    from featurekit.metrics import ONLINE_WRITE_APPLIED_TOTAL, ONLINE_WRITE_ROWS_TOTAL
    from featurekit.online_store.writer import prepare

    total = table.num_rows
    if total == 0:
        return 0
    rows = prepare(view, table)

    def on_batch(sent: int, applied: int) -> None:
        ONLINE_WRITE_ROWS_TOTAL.labels(view.name, view.tier).inc(sent)
        ONLINE_WRITE_APPLIED_TOTAL.labels(view.name, view.tier).inc(applied)

    await write_prepared_async(view, settings, rows, batch_rows=batch_rows, progress=progress, on_batch=on_batch)
    if progress and total > len(rows):
        progress(total - len(rows))
    return total


async def write_prepared_async(
    view: CompiledView,
    settings: ConnectionSettings,
    rows: PreparedRows,
    *,
    batch_rows: int,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Standalone tier: send prepared rows in bounded newer-wins batches on the running loop; returns how many rows
    were applied. ``on_batch(rows_in_batch, applied)`` and ``progress(rows)`` follow each acknowledged batch."""
    from featurekit.online_store.row_format import pack_rows
    from featurekit.online_store.writer import MAX_BATCH_ROWS, _batch_command  # the one encoder of a batch

    n = len(rows)
    batch_rows = max(1, min(batch_rows, MAX_BATCH_ROWS))
    applied = done = 0
    for start in range(0, n, batch_rows):
        sl = slice(start, min(start + batch_rows, n))
        created = rows.created_us[sl] if rows.created_us is not None else None
        packed = pack_rows(
            view.schema, rows.event_us[sl], created, [v[sl] for v in rows.values], [m[sl] for m in rows.nulls]
        )
        payload = _LOAD_PUT_NEWER + _batch_command(view, _PUT_NEWER_SHA, rows, sl, packed)
        try:
            loaded, reply = await execute_packed_async(settings, payload, 2)
        except RedisUnavailableError as exc:
            raise RedisUnavailableError(
                f"writing feature view {view.name!r} to tier {settings.tier!r} stopped after {done} of {n} rows: "
                f"{exc}. Each key is written atomically and newer-wins, so rerunning the same write completes it."
            ) from exc
        for answer in (loaded, reply):
            if isinstance(answer, Exception):
                raise OnlineStoreError(
                    f"writing feature view {view.name!r} to tier {settings.tier!r} failed in Redis: {answer}"
                )
        count = sl.stop - sl.start
        applied += int(reply)
        done += count
        if on_batch:
            on_batch(count, int(reply))
        if progress:
            progress(count)
    return applied
