"""The HTTP/1.1 front-end's framing: keep-alive, pipelining, Expect: 100-continue, limits, auth before data.

Only ``/health`` and auth rejections are exercised, which need no reader; the data path runs in test_server.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from featurekit.config.settings import ServingSettings
from featurekit.serving.auth import BearerAuth
from featurekit.serving.http import Worker
from featurekit.serving.server import FeatureServer

MAX_HEADER_BYTES = ServingSettings().max_header_bytes


@pytest.fixture
def port() -> Iterator[int]:
    """The protocol served by an asyncio loop in a background thread."""
    import threading

    loop = asyncio.new_event_loop()
    server = FeatureServer(reader=None, auth=BearerAuth("tok"))
    worker = Worker(server, server.settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    ready = threading.Event()

    async def main() -> None:
        await loop.create_server(worker.protocol, sock=sock)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(5)
    yield sock.getsockname()[1]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    worker.close()


def _exchange(port: int, payload: bytes, *, expect: int = 1) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(payload)
        data = b""
        while data.count(b"HTTP/1.1 ") < expect or not data.endswith((b"}", b"\n")):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_keep_alive_and_pipelined_requests_are_answered_in_order(port):
    one = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _exchange(port, one + one + one, expect=3)
    assert reply.count(b"HTTP/1.1 200 OK") == 3 and reply.count(b'{"status":"ok"}') == 3


def test_data_endpoints_need_the_token_and_reveal_nothing(port):
    body = b'{"features":["v:f"],"entities":{"user_id":[1]}}'
    request = b"POST /get-online-features HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    reply = _exchange(port, request)
    assert reply.startswith(b"HTTP/1.1 401") and b"www-authenticate: Bearer" in reply
    assert _exchange(port, b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n").startswith(b"HTTP/1.1 401")


def test_expect_100_continue_is_acknowledged(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"POST /health HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert conn.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(b"{}")
        assert conn.recv(1024).startswith(b"HTTP/1.1 405")  # the body arrived and the request was answered


def test_limits_and_unsupported_framing_close_the_connection(port):
    huge = b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 10)
    assert _exchange(port, huge).startswith(b"HTTP/1.1 431")
    unknown_encoding = b"POST /get-online-features HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"
    assert _exchange(port, unknown_encoding).startswith(b"HTTP/1.1 400")
    assert _exchange(port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
