"""Worker processes of ``featurekit serve``: a listening socket per process (``SO_REUSEPORT``), the event loop
(uvloop), and signal handling. Workers are never recycled; each runs :mod:`featurekit.serving.http`'s protocol."""

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

from featurekit.serving.http import Worker
from featurekit.serving.server import FeatureServer

logger = logging.getLogger(__name__)


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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is in the lock), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a locked dependency
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def start(worker: Worker, sock: socket.socket) -> asyncio.AbstractServer:
    """Accept connections on ``sock`` with ``worker``'s protocol (the caller runs the loop)."""
    worker.server.start()
    return await asyncio.get_running_loop().create_server(worker.protocol, sock=sock)


def serve_forever(build: Callable[[], tuple[FeatureServer, Callable[[], None]]], host: str, port: int) -> None:
    """Run one worker: build the server (reader, refresher), accept connections until SIGTERM/SIGINT."""
    server, shutdown = build()
    worker = Worker(server, server.settings)
    sock = listening_socket(host, port)
    # Registry, plans and Feast objects live for the whole process: move them out of the cyclic collector's
    # generations so its pauses stay short on the request path.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: None if stop.done() else stop.set_result(None))
        listener = await start(worker, sock)
        logger.info("featurekit feature server (pid %d) listening on %s:%d", os.getpid(), host, port)
        await stop
        listener.close()
        await listener.wait_closed()

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(main())
    finally:
        worker.close()
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
