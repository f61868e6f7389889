"""Start and stop a throw-away ``redis-server`` on a free loopback port.

Used by ``featurekit demo`` when no Redis URL is configured and by the test fixtures, so the demo and the tests run
against the same real server binary that ElastiCache runs in production (never an in-process fake).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from featurekit.errors import TransientError
from featurekit.services.ports import free_port, wait_for_port

INSTALL_HINT = "redis-server not found: install it with `apt-get install -y redis-server` (Debian/Ubuntu)."


def listpack_args() -> list[str]:
    """The hash encoding limits the online store's bucket layout relies on (the same values as the Terraform
    ElastiCache parameter group), so local servers store buckets exactly as production does."""
    from featurekit.online_store.config import LISTPACK_SETTINGS

    return [arg for name, value in LISTPACK_SETTINGS.items() for arg in (f"--{name}", str(value))]


class ServiceUnavailableError(TransientError, RuntimeError):
    """A local service binary is missing or did not start; the message says what to install or check."""


@dataclass
class RedisServer:
    """A running local Redis server; use as a context manager or call :meth:`stop`."""

    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)
    workdir: Path | None = field(default=None, repr=False)
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @classmethod
    def start(cls, *, port: int | None = None, extra_args: tuple[str, ...] = (), timeout_s: float = 10.0):
        """Start ``redis-server`` without persistence on a free port and wait until it accepts connections."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailableError(INSTALL_HINT)
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="featurekit-redis-"))
        args = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--protected-mode", "yes",
            *listpack_args(),
            *extra_args,
        ]  # fmt: skip
        log = open(workdir / "redis.log", "wb")  # noqa: SIM115 - the server process owns the handle
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        server = cls(port=port, process=process, workdir=workdir, extra_args=extra_args)
        if not wait_for_port("127.0.0.1", port, timeout_s):
            server.stop()
            raise ServiceUnavailableError(f"redis-server did not accept connections on port {port}: {workdir}")
        return server

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would; used by fault-injection tests."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, timeout_s: float = 10.0) -> None:
        """Start the server again on the same port after :meth:`kill` (empty dataset: no persistence)."""
        self.kill()
        fresh = RedisServer.start(port=self.port, extra_args=self.extra_args, timeout_s=timeout_s)
        self.process, self.workdir = fresh.process, fresh.workdir

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
