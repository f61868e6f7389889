"""Connections to one Redis server: a lean RESP pipeline (pre-packed commands out, hiredis replies in).

Why not redis-py's pipeline: it packs every command in Python and reads every reply through several layers of
calls, which costs more than Redis itself for the small commands the online store sends (a 3,000-command read spends
~10 ms in redis-py and ~1 ms in Redis). :class:`RespConnection` writes pre-packed RESP bytes to the socket and parses
replies with hiredis (C). Both tier clients (``standalone.py``, ``cluster.py``: one pool per node) send through it;
the cluster client uses redis-py for what it does well (topology discovery, maintenance commands).
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
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000

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
        wait_replicas=cfg.wait_replicas,
        wait_timeout_ms=cfg.wait_timeout_ms,
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
        self.broken = False  # an exchange failed or was interrupted: never reuse
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
        self.broken = True
        with suppress(OSError):
            self._sock.close()
        self._reader = hiredis.Reader()


class TierPool:
    """A small pool of connections to one standalone tier; a connection that failed is dropped, not reused."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._idle: list[RespConnection] = []
        self._lock = threading.Lock()

    def acquire(self, *, fresh: bool = False) -> RespConnection:
        """Take an idle connection or open one (``fresh``: drop idle ones first, used to retry after a failure).
        Pair with :meth:`release`."""
        conn = None
        if fresh:
            self.close()
        else:
            with self._lock:
                while self._idle and conn is None:
                    conn = self._idle.pop()
                    conn = None if conn.broken else conn
            if conn is not None:
                conn.reused = True
        return conn if conn is not None else RespConnection(self.settings)

    def release(self, conn: RespConnection) -> None:
        """Return a connection after a complete exchange (a broken one is dropped)."""
        if conn.broken:
            return
        with self._lock:
            if len(self._idle) < self.settings.max_connections:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[RespConnection]:
        """Borrow a connection for one or more complete exchanges."""
        conn = self.acquire(fresh=fresh)
        try:
            yield conn
        except BaseException:
            # An interrupted exchange leaves unread replies on the socket: never reuse it.
            conn.close()
            raise
        self.release(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
