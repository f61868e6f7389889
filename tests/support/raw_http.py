"""Raw-socket HTTP/1.1 helpers for the adversarial tests, and an in-process feature server to aim them at.

The server is the real front-end (``featurekit.serving.http`` on uvloop, its worker thread pool) over a real Feast
repo and Redis; only its limits are set per test. Responses are parsed here by hand on purpose: the tests must see
exactly what went over the wire (a hidden second response, a body after HEAD, a connection left open).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from featurekit.config.settings import ServingSettings


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@contextmanager
def running_server(
    feature_store: Any, *, offline: Any = None, token: str | None = None, gates: Any = None, **limits: Any
) -> Iterator[Any]:
    """``featurekit serve``'s worker over ``feature_store`` on a free port; yields the server (``.port`` set)."""
    from featurekit.serving.http import Worker
    from featurekit.serving.wiring import build_server
    from featurekit.serving.workers import listening_socket, new_event_loop, start

    settings = ServingSettings(**limits)
    server, shutdown = build_server(feature_store, settings, offline=offline, auth_token=token, gates=gates)
    worker = Worker(server, settings)
    loop = new_event_loop()
    sock = listening_socket("127.0.0.1", 0)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start(worker, sock))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    server.port = sock.getsockname()[1]
    server.executor = worker.executor  # tests may occupy the pool to see which requests need it
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        worker.close()
        shutdown()
        sock.close()


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def request(method: str, path: str, body: bytes | dict | None = None, headers: dict[str, str] | None = None) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body).encode()  # stdlib json: it writes integers beyond 64 bits, as a client may
    lines = [f"{method} {path} HTTP/1.1", "Host: x"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def read_response(conn: socket.socket, buffer: bytearray, *, head: bool = False) -> Response | None:
    """One response from ``conn`` (``None`` if the server closed first); leftover bytes stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    lines = bytes(buffer[:end]).split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    del buffer[: end + 4]
    length = 0 if head or status == 100 else int(headers.get(b"content-length", b"0"))
    while len(buffer) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise AssertionError("connection closed in the middle of a response body")
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return Response(status, headers, body)


def exchange(port: int, payload: bytes, *, head: bool = False) -> tuple[list[Response], bool]:
    """Send ``payload`` on a new connection, read every response until the server closes (or 10 s of silence).
    Returns the responses and whether the server closed the connection."""
    conn = connect(port, timeout=10.0)
    responses: list[Response] = []
    buffer = bytearray()
    closed = False
    try:
        conn.sendall(payload)
        while True:
            try:
                response = read_response(conn, buffer, head=head)
            except TimeoutError:
                break
            if response is None:
                closed = True
                break
            responses.append(response)
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        conn.close()
    return responses, closed
