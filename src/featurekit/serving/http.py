"""A lean HTTP/1.1 front-end for :class:`~featurekit.serving.server.FeatureServer` (what ``featurekit serve`` runs).

Why not uvicorn: without its optional C parser (httptools is not in the locked environment) uvicorn parses HTTP with
h11 in pure Python and goes through the ASGI message protocol; for a batch-1 feature request that costs several
times the Redis read itself. This protocol parses only what the feature API needs (request line, Content-Length,
Authorization, Connection), keeps connections alive, answers pipelined requests in order, and bounds header and
body sizes. Workers are separate processes sharing the port with ``SO_REUSEPORT``; they are never recycled. The
ASGI app (:func:`featurekit.serving.server.create_app`) remains available for embedding in other ASGI servers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

from featurekit.serving.server import MAX_BODY_BYTES, FeatureServer

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found", 411: b"Length Required",
            413: b"Payload Too Large", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            501: b"Not Implemented", 503: b"Service Unavailable"}  # fmt: skip


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"content-length: %d" % len(body))
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HttpProtocol(asyncio.Protocol):
    """One client connection: buffer bytes, answer each complete request in order."""

    def __init__(self, server: FeatureServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self._continue_sent = False  # "100 Continue" already sent for the request being received

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            if not self._handle_one():
                break

    def _fail(self, status: int, detail: bytes) -> bool:
        assert self.transport is not None
        self.transport.write(
            _response(status, [(b"content-type", b"application/json")], b'{"detail":"' + detail + b'"}', False)
        )
        self.transport.close()
        self.buffer.clear()
        return False

    def _handle_one(self) -> bool:
        """Handle one complete request from the buffer; False when more bytes are needed (or it closed)."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                return self._fail(431, b"request headers too large")
            return False
        head = bytes(self.buffer[:end]).split(b"\r\n")
        parts = head[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return self._fail(400, b"malformed request line")
        method, target, version = parts
        length = 0
        expect_continue = False
        authorization = None
        keep_alive = version == b"HTTP/1.1"
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                if not value.isdigit():
                    return self._fail(400, b"invalid content-length")
                length = int(value)
            elif name == b"authorization":
                authorization = value
            elif name == b"expect":
                expect_continue = value.lower() == b"100-continue"
            elif name == b"connection":
                token = value.lower()
                keep_alive = token != b"close" and (keep_alive or token == b"keep-alive")
            elif name == b"transfer-encoding":
                return self._fail(411, b"chunked bodies are not supported: send content-length")
        if length > MAX_BODY_BYTES:
            return self._fail(413, b"request body too large")
        total = end + 4 + length
        if len(self.buffer) < total:
            if expect_continue and not self._continue_sent and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits 1 s for this otherwise
                self._continue_sent = True
            return False
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        self._continue_sent = False
        path = target.split(b"?", 1)[0].decode("latin-1")
        try:
            status, headers, payload = self.server.handle(path, method.decode("latin-1"), authorization, body)
        except Exception:
            logger.exception("unhandled error for %s %s", method, path)
            status, headers, payload = 500, [(b"content-type", b"application/json")], b'{"detail":"internal error"}'
        assert self.transport is not None
        self.transport.write(_response(status, headers, payload, keep_alive))
        if not keep_alive:
            self.transport.close()
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that several worker processes can bind (``SO_REUSEPORT``)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve_forever(build: Callable[[], tuple[FeatureServer, Callable[[], None]]], host: str, port: int) -> None:
    """Run one worker: build the server (reader, refresher), accept connections until SIGTERM/SIGINT."""
    server, shutdown = build()
    sock = listening_socket(host, port)
    # Registry, plans and Feast objects live for the whole process: move them out of the cyclic collector's
    # generations so its pauses stay short on the request path.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        listener = await loop.create_server(lambda: HttpProtocol(server), sock=sock)
        logger.info("featurekit feature server (pid %d) listening on %s:%d", os.getpid(), host, port)
        await stop
        listener.close()
        await listener.wait_closed()

    try:
        asyncio.run(main())
    finally:
        shutdown()


def run_workers(
    build: Callable[[], tuple[FeatureServer, Callable[[], None]]], host: str, port: int, workers: int
) -> None:
    """Serve with ``workers`` processes (1 = this process). ``build`` must be picklable for more than one."""
    if workers <= 1:
        serve_forever(build, host, port)
        return
    probe = listening_socket(host, port)  # fail early (port in use) before spawning workers
    probe.close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=serve_forever, args=(build, host, port), daemon=False) for _ in range(workers)]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: Any) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
