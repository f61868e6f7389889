"""Connections to one tier's Redis: a lean RESP pipeline for standalone servers, redis-py for Cluster.

Why not redis-py everywhere: its pipeline packs every command in Python and reads every reply through several
layers of calls, which costs more than Redis itself for the small commands the online store sends (a 3,000-command
read spends ~10 ms in redis-py and ~1 ms in Redis). :class:`RespConnection` writes pre-packed RESP bytes to the socket
and parses replies with hiredis (C). Redis Cluster needs slot routing, redirections and node discovery, which
redis-py's ``RedisCluster`` already does correctly, so Cluster tiers use it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import hiredis

from featurekit.online_store.config import RedisTierConfig
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError, TierNotConfiguredError

Command = Sequence[bytes | str | int | float]


def pack_command(args: Command) -> bytes:
    """RESP encoding of one command."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int | float):
            a = repr(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def pack_commands(commands: Sequence[Command]) -> bytes:
    return b"".join(pack_command(c) for c in commands)


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to open a connection, resolved from a tier's config (parsed once, testable offline)."""

    tier: str
    host: str
    port: int
    db: int
    tls: bool
    username: str | None
    password: str | None
    ssl_ca_certs: str | None
    timeout_s: float
    max_connections: int
    cluster: bool

    def describe(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"tier {self.tier!r} ({scheme}://{self.host}:{self.port}/{self.db}{', cluster' if self.cluster else ''})"


def connection_settings(tier: str, cfg: RedisTierConfig) -> ConnectionSettings:
    """Parse a tier's URL and credentials. Config fields win over credentials embedded in the URL."""
    if not cfg.url or not cfg.url.strip():
        raise TierNotConfiguredError(tier)
    parsed = urlparse(cfg.url.strip())
    if parsed.scheme not in ("redis", "rediss"):
        raise OnlineStoreError(
            f"online_store.tiers.{tier}.url must start with redis:// or rediss:// (TLS), got {cfg.url!r}"
        )
    if not parsed.hostname:
        raise OnlineStoreError(f"online_store.tiers.{tier}.url has no host: {cfg.url!r}")
    path = parsed.path.strip("/")
    try:
        db = int(path) if path else 0
    except ValueError:
        raise OnlineStoreError(f"online_store.tiers.{tier}.url: database {path!r} is not a number") from None
    if cfg.cluster and db != 0:
        raise OnlineStoreError(f"online_store.tiers.{tier}: Redis Cluster only has database 0, url selects {db}")
    password = cfg.password.get_secret_value() if cfg.password is not None else None
    if not password and parsed.password:
        password = unquote(parsed.password)
    username = cfg.username or (unquote(parsed.username) if parsed.username else None)
    return ConnectionSettings(
        tier=tier,
        host=parsed.hostname,
        port=parsed.port or 6379,
        db=db,
        tls=parsed.scheme == "rediss",
        username=username,
        password=password or None,
        ssl_ca_certs=cfg.ssl_ca_certs,
        timeout_s=cfg.socket_timeout_s,
        max_connections=cfg.max_connections,
        cluster=cfg.cluster,
    )


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """TLS context for ``rediss://``: system trust store, or the configured CA bundle; hostnames verified."""
    ctx = ssl.create_default_context(cafile=settings.ssl_ca_certs)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class RespConnection:
    """One socket to a standalone Redis, with hiredis reply parsing. Not thread-safe (use :class:`TierPool`)."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.reused = False  # taken from the pool (may have gone stale since), not freshly opened
        self._buf = bytearray(1 << 16)
        try:
            sock = socket.create_connection((settings.host, settings.port), timeout=settings.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if settings.tls:
                sock = ssl_context(settings).wrap_socket(sock, server_hostname=settings.host)
        except OSError as exc:
            raise RedisUnavailableError(f"cannot connect to Redis for {settings.describe()}: {exc}") from exc
        self._sock = sock
        self._reader = hiredis.Reader()
        handshake: list[Command] = []
        if settings.password:
            handshake.append(
                ("AUTH", settings.username, settings.password) if settings.username else ("AUTH", settings.password)
            )
        if settings.db:
            handshake.append(("SELECT", settings.db))
        if handshake:
            for reply in self.execute(pack_commands(handshake), len(handshake)):
                if isinstance(reply, hiredis.ReplyError):
                    self.close()
                    raise RedisUnavailableError(f"Redis rejected the connection for {settings.describe()}: {reply}")

    def execute(self, payload: bytes, count: int) -> list[Any]:
        """Send pre-packed commands and read ``count`` replies. Error replies are returned as
        ``hiredis.ReplyError`` objects in place; a broken connection raises :class:`RedisUnavailableError`."""
        self.send(payload)
        return self.read(count)

    def send(self, payload: bytes) -> None:
        """Write pre-packed commands without waiting for replies (pair with :meth:`read`)."""
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            self.close()
            raise RedisUnavailableError(
                f"Redis connection failed for {self.settings.describe()}: {exc or type(exc).__name__}"
            ) from exc

    def read(self, count: int) -> list[Any]:
        """Read ``count`` replies (error replies in place as ``hiredis.ReplyError``)."""
        sock, reader, buf = self._sock, self._reader, self._buf
        try:
            replies: list[Any] = []
            append = replies.append
            gets = reader.gets
            while len(replies) < count:
                reply = gets()
                if reply is False:
                    n = sock.recv_into(buf)
                    if n == 0:
                        raise ConnectionError("connection closed by the server")
                    reader.feed(buf, 0, n)  # type: ignore[arg-type]  # hiredis reads any buffer; its stubs say bytes
                    continue
                append(reply)
            return replies
        except (OSError, ConnectionError) as exc:
            self.close()
            raise RedisUnavailableError(
                f"Redis connection failed for {self.settings.describe()}: {exc or type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        with suppress(OSError):
            self._sock.close()
        self._reader = hiredis.Reader()


class TierPool:
    """A small pool of connections to one standalone tier; a connection that failed is dropped, not reused."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._idle: list[RespConnection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[RespConnection]:
        """Borrow a connection (``fresh``: drop idle ones and open a new one, used to retry after a failure)."""
        conn = None
        if fresh:
            self.close()
        else:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is not None:
                conn.reused = True
        if conn is None:
            conn = RespConnection(self.settings)
        try:
            yield conn
        except RedisUnavailableError:
            conn.close()
            raise
        except BaseException:
            # An interrupted exchange leaves unread replies on the socket: never reuse it.
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < self.settings.max_connections:
                self._idle.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Tier:
    """One tier's Redis: run pipelines of commands, load scripts. Standalone uses :class:`TierPool`;
    Cluster uses redis-py ``RedisCluster`` (slot routing and redirections)."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.cluster = settings.cluster
        self._pool = None if settings.cluster else TierPool(settings)
        self._cluster_client: Any = None
        self._scripts: dict[str, bytes] = {}

    @property
    def name(self) -> str:
        return self.settings.tier

    def _cluster(self) -> Any:
        if self._cluster_client is None:
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
                self._cluster_client = RedisCluster(**kwargs)
            except Exception as exc:
                raise RedisUnavailableError(f"cannot connect to Redis Cluster for {s.describe()}: {exc}") from exc
        return self._cluster_client

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[RespConnection]:
        """Standalone only: hold one connection for a multi-step exchange (e.g. a windowed bulk write)."""
        assert self._pool is not None, "connection() is for standalone tiers"
        with self._pool.connection(fresh=fresh) as conn:
            yield conn

    def execute_packed(self, payload: bytes, count: int) -> list[Any]:
        """Standalone only: send pre-packed commands, return ``count`` replies (errors in place).

        Every command the store sends is idempotent (reads, newer-wins writes, deletes), so after a failure on a
        pooled connection (e.g. Redis restarted since it was opened) the exchange is retried once on a new one.
        A fresh connection's failure or a timeout is not retried: waits never stack beyond one ``socket_timeout_s``
        per exchange (a hung Redis must cost a request one timeout, not two)."""
        assert self._pool is not None, "execute_packed is for standalone tiers"
        conn = None
        try:
            with self._pool.connection() as conn:
                return conn.execute(payload, count)
        except RedisUnavailableError as exc:
            if conn is None or not conn.reused or isinstance(exc.__cause__, TimeoutError):
                raise
            with self._pool.connection(fresh=True) as conn:
                return conn.execute(payload, count)

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Run commands in one pipeline (per node in Cluster); replies in order, error replies as exceptions."""
        if not commands:
            return []
        if self._pool is not None:
            return self.execute_packed(pack_commands(commands), len(commands))
        from redis.exceptions import RedisError

        try:
            pipe = self._cluster().pipeline()
            for cmd in commands:
                pipe.execute_command(*cmd)
            replies: list[Any] = pipe.execute(raise_on_error=False)
            return replies
        except RedisError as exc:
            raise RedisUnavailableError(f"Redis Cluster command failed for {self.settings.describe()}: {exc}") from exc

    def command(self, *args: bytes | str | int | float) -> Any:
        """One command; an error reply raises."""
        reply = self.pipeline([args])[0]
        if isinstance(reply, Exception):
            raise OnlineStoreError(f"Redis {args[0]!s} failed on {self.settings.describe()}: {reply}")
        return reply

    def script_sha(self, source: str) -> bytes:
        """Load a Lua script on every primary (idempotent; Redis caches scripts by SHA) and return its SHA."""
        sha = self.command("SCRIPT", "LOAD", source) if self._pool is not None else self._cluster().script_load(source)
        sha = sha.encode() if isinstance(sha, str) else sha
        self._scripts[source] = sha
        return sha

    def scan_keys(self, match: bytes, count: int = 1000) -> Iterator[bytes]:
        """Every key matching ``match`` (SCAN, so Redis is never blocked; on every primary in Cluster mode).

        SCAN may return a key more than once; callers treat keys as a set."""
        if self._pool is None:
            from redis.exceptions import RedisError

            try:
                yield from self._cluster().scan_iter(match=match, count=count)
            except RedisError as exc:
                raise RedisUnavailableError(f"SCAN failed for {self.settings.describe()}: {exc}") from exc
            return
        cursor: bytes | int = 0
        while True:
            cursor, keys = self.command("SCAN", cursor, "MATCH", match, "COUNT", count)
            yield from keys
            if int(cursor) == 0:
                return

    def slot_of(self, key: bytes) -> int:
        from redis.crc import key_slot

        return key_slot(key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._cluster_client is not None:
            self._cluster_client.close()
            self._cluster_client = None
