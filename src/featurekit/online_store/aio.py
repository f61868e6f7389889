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
import weakref
from typing import TYPE_CHECKING, Any

import hiredis

from featurekit.online_store.connection import ConnectionSettings, pack_commands, ssl_context
from featurekit.online_store.errors import RedisUnavailableError

if TYPE_CHECKING:
    pass

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
