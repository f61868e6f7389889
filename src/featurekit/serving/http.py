"""The HTTP/1.1 front-end of ``featurekit serve``: llhttp (via httptools) under a small asyncio protocol.

Why this and not a hand-written parser: request framing is where smuggling and desync bugs live (duplicate or
conflicting Content-Length, Content-Length with Transfer-Encoding, bare LF/CR, obs-fold, whitespace before the
colon, NUL and other control bytes). llhttp, the parser of Node.js, refuses all of them in its default strict
mode; every refusal is answered ``400`` and the connection is closed, so nothing after a malformed request is ever
read as a request. Why not uvicorn itself: with the same parser it adds the ASGI message round trips per request,
which the benchmark (``featurekit bench online``, candidates recorded in its JSON) measures; the protocol below is
modelled on uvicorn's ``httptools_impl`` (callbacks for url/headers/body, flow control, keep-alive timeout).

What one client can make a worker hold or do is bounded (limits and timeouts come from ``serving`` in the
environment settings, see :class:`featurekit.config.settings.ServingSettings`):

* header block (431, counted as the parser consumes it, however the bytes arrive) and body size (413, also for
  chunked bodies), entity rows per request (413, checked by the request parser);
* header, body and keep-alive (idle) timeouts: a slow or silent client is answered 408 or simply closed;
* pipelined requests are answered in order, one at a time; reading pauses while too many are queued or while the
  transport's write buffer is above ``write_buffer_bytes`` (a client that never reads costs at most that much);
* request work runs under a per-request deadline (503 past ``request_timeout_s`` or when ``max_queued_requests``
  are already in progress): small reads on the event loop with an asyncio Redis read (cancelled at the deadline),
  everything else on a bounded thread pool, so ``/health`` and ``/metrics`` stay responsive on the event loop.
  Small reads skip the pool because the hop to a thread and back cost as much as a batch-1 read itself
  (``docs/performance.md``, "Small reads on the event loop").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httptools

from featurekit.config.settings import ServingSettings
from featurekit.serving.responses import JSON_HEADERS as _JSON
from featurekit.serving.responses import detail as _detail
from featurekit.serving.responses import encode as _response
from featurekit.serving.server import FeatureServer, Reply

logger = logging.getLogger(__name__)

# Reads with bodies up to this size are parsed on the event loop (orjson: tens of microseconds), so the server can
# answer small requests there without a thread hop (see FeatureServer.begin_online); larger bodies go to the pool.
_INLINE_MAX_BODY = 16_384


class Worker:
    """What the connections of one worker process share: the handler, its limits, the thread pool and the count
    of requests submitted to it (the bound on queued work)."""

    def __init__(self, server: FeatureServer, settings: ServingSettings) -> None:
        self.server = server
        self.settings = settings
        self.executor = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="featurekit-serve")
        self.pending = 0

    def protocol(self) -> HttpProtocol:
        return HttpProtocol(self)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Request:
    method: str
    path: str
    authorization: bytes | None
    duplicate_authorization: bool
    body: bytes
    keep_alive: bool


@dataclass
class _Refusal:
    """A protocol error: answered in order after the requests before it, then the connection closes."""

    status: int
    message: str


class _Reject(Exception):
    """Raised from a parser callback to stop parsing with a status (431, 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpProtocol(asyncio.Protocol):
    """One client connection: parse with llhttp, answer requests in order, apply the worker's limits."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.limits = worker.settings
        self.loop = asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[_Request | _Refusal] = deque()
        self.busy = False  # a request of this connection is being answered
        self.write_paused = False
        self.read_paused = False
        self.closing = False  # a refusal was queued: parse nothing more
        self.timer: asyncio.TimerHandle | None = None
        self.raw_header_bytes = 0  # bytes received since the last header block completed (unfinished lines)
        self._reset_message()

    def _reset_message(self) -> None:
        self.in_message = False
        self.url = b""
        self.header_bytes = 0
        self.authorization: bytes | None = None
        self.duplicate_authorization = False
        self.expect_continue = False
        self.content_length: int | None = None
        self.headers_done = False
        self.body: list[bytes] = []
        self.body_bytes = 0

    # ---- connection ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=self.limits.write_buffer_bytes)  # type: ignore[union-attr]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm(self.limits.keep_alive_timeout_s, self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.transport = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.headers_done:
            # llhttp reports a header line only once it is complete: count raw bytes too, so one endless line
            # is bounded as well (complete blocks are counted exactly in on_url/on_header).
            self.raw_header_bytes += len(data)
        try:
            self.parser.feed_data(data)
            if not self.headers_done and self.raw_header_bytes > self.limits.max_header_bytes:
                raise _Reject(431, self._header_limit_message())
        except httptools.HttpParserUpgrade:
            self._refuse(400, "protocol upgrades are not supported")
        except _Reject as exc:
            self._refuse(exc.status, str(exc))
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._refuse(cause.status, str(cause))
            else:
                logger.exception("HTTP parser callback failed")
                self._refuse(500, "internal error")
        except httptools.HttpParserError as exc:
            self._refuse(400, f"malformed HTTP request: {exc}")
        self._pump()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._pump()

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.transport.is_closing():
            self.read_paused = False
            self.transport.resume_reading()

    # ---- timers --------------------------------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self.timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _idle_timeout(self) -> None:
        self.timer = None
        if self.transport is not None and not self.busy and not self.queue and not self.in_message:
            self.transport.close()

    def _read_timeout(self, what: str, seconds: float) -> Callable[[], None]:
        def fire() -> None:
            self.timer = None
            if self.in_message and not self.closing:
                self._refuse(408, f"{what} not received within {seconds} s (serving.{what.split()[1]}_timeout_s)")
                self._pump()

        return fire

    # ---- parser callbacks ----------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset_message()
        self.in_message = True
        if not self.busy:
            s = self.limits.header_timeout_s
            self._arm(s, self._read_timeout("request header", s))

    def _count_header(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.limits.max_header_bytes:
            raise _Reject(431, self._header_limit_message())

    def _header_limit_message(self) -> str:
        return f"request header block exceeds {self.limits.max_header_bytes} bytes (serving.max_header_bytes)"

    def on_url(self, url: bytes) -> None:
        self._count_header(len(url))
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header(len(name) + len(value) + 4)
        lower = name.lower()
        if lower == b"authorization":
            if self.authorization is not None:
                self.duplicate_authorization = True
            self.authorization = value
        elif lower == b"expect":
            self.expect_continue = value.lower() == b"100-continue"
        elif lower == b"content-length":
            self.content_length = int(value)  # llhttp has checked the digits and refused duplicates

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.raw_header_bytes = 0
        length = self.content_length
        limit = self.limits.max_body_bytes
        if length is not None and length > limit:
            raise _Reject(413, f"request body of {length} bytes exceeds {limit} bytes (serving.max_body_bytes)")
        if not self.busy:
            s = self.limits.body_timeout_s
            self._arm(s, self._read_timeout("request body", s))
        if self.expect_continue and self.transport is not None and not self.queue and not self.busy:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits 1 s for this otherwise

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.max_body_bytes:
            raise _Reject(413, f"request body exceeds {self.limits.max_body_bytes} bytes (serving.max_body_bytes)")
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        self.queue.append(
            _Request(
                method=method,
                path=path,
                authorization=self.authorization,
                duplicate_authorization=self.duplicate_authorization,
                body=b"".join(self.body),
                keep_alive=self.parser.should_keep_alive(),
            )
        )
        self._reset_message()
        if not self.busy:
            self._disarm()
        if len(self.queue) >= self.limits.max_pipelined_requests:
            self._pause_reading()

    # ---- answering -----------------------------------------------------------------------------------------

    def _refuse(self, status: int, message: str) -> None:
        self.closing = True
        self._pause_reading()
        self.queue.append(_Refusal(status, message))

    def _pump(self) -> None:
        """Answer queued requests in order while the client keeps up; start the idle timer when done."""
        while self.queue and not self.busy and not self.write_paused and self.transport is not None:
            item = self.queue.popleft()
            if isinstance(item, _Refusal):
                self._write(item.status, _JSON, _detail(item.message), keep_alive=False, head=False)
                return
            self._start(item)
        if self.transport is None or self.closing:
            return
        if not self.write_paused and len(self.queue) < self.limits.max_pipelined_requests:
            self._resume_reading()
        if self.busy or self.queue:
            return
        if not self.in_message:
            self._arm(self.limits.keep_alive_timeout_s, self._idle_timeout)
        elif self.timer is None:  # a pipelined request is still arriving: its read timeout starts now
            what, s = (
                ("body", self.limits.body_timeout_s) if self.headers_done else ("header", self.limits.header_timeout_s)
            )
            self._arm(s, self._read_timeout(f"request {what}", s))

    def _write(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, keep_alive: bool, head: bool
    ) -> None:
        assert self.transport is not None
        self.transport.write(_response(status, headers, body, keep_alive, head))
        if not keep_alive:
            self.closing = True
            self.queue.clear()
            self.transport.close()

    def _start(self, request: _Request) -> None:
        head = request.method == "HEAD"
        if request.duplicate_authorization:
            self._write(400, _JSON, _detail("more than one Authorization header"), keep_alive=False, head=head)
            return
        routed = self.worker.server.route("GET" if head else request.method, request.path, request.authorization)
        if not callable(routed):
            self._write(*routed, keep_alive=request.keep_alive, head=head)
            return
        worker = self.worker
        if worker.pending >= self.limits.max_queued_requests:
            self._write(
                503,
                _JSON,
                _detail(f"server busy: {worker.pending} requests queued (serving.max_queued_requests)"),
                keep_alive=request.keep_alive,
                head=head,
            )
            return
        server = worker.server
        job: asyncio.Future[Reply]
        if routed is server.online_job and len(request.body) <= _INLINE_MAX_BODY:
            begun = server.begin_online(request.body)
            if isinstance(begun, tuple):  # refused while parsing: answered at once
                self._write(*begun, keep_alive=request.keep_alive, head=head)
                return
            if callable(begun):  # too much work for the loop: the thread pool reads
                thunk: Callable[[], Reply] = begun
                job = self.loop.run_in_executor(worker.executor, thunk)
            else:
                read: Coroutine[Any, Any, Reply] = begun
                job = self.loop.create_task(read)
        else:
            job = self.loop.run_in_executor(worker.executor, routed, request.body)
        worker.pending += 1
        self.busy = True
        self._disarm()
        deadline = self.loop.call_later(self.limits.request_timeout_s, self._deadline, job, request)
        job.add_done_callback(lambda fut: self._finished(fut, deadline, request))

    def _deadline(self, job: asyncio.Future[Any], request: _Request) -> None:
        """The request is answered 503 now. A read on the loop is cancelled (its Redis connection is closed); a
        thread finishes (bounded by the Redis timeout) and its answer is dropped."""
        if job.done() or not self.busy:
            return
        self.busy = False
        job.answered = True  # type: ignore[attr-defined]
        if isinstance(job, asyncio.Task):
            job.cancel()
        seconds = self.limits.request_timeout_s
        self.worker.server.timed_out(request.path)
        if self.transport is not None:
            self._write(
                503,
                _JSON,
                _detail(f"no answer within {seconds} s (serving.request_timeout_s): the online store is slow"),
                keep_alive=request.keep_alive,
                head=request.method == "HEAD",
            )
            self._pump()

    def _finished(self, job: asyncio.Future[Any], deadline: asyncio.TimerHandle, request: _Request) -> None:
        self.worker.pending -= 1
        deadline.cancel()
        if getattr(job, "answered", False) or self.transport is None:
            return
        self.busy = False
        try:
            status, headers, payload = job.result()
        except (Exception, asyncio.CancelledError):
            logger.exception("unhandled error for %s %s", request.method, request.path)
            status, headers, payload = 500, _JSON, _detail("internal error")
        self._write(status, headers, payload, keep_alive=request.keep_alive, head=request.method == "HEAD")
        self._pump()
