"""``bench online``'s server phase: start a feature server, drive it with keep-alive HTTP clients (sequential batch-1,
then concurrent req/s and p99) and account its CPU per request; also used by ``--feast-api`` for ``feast serve``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

from bench.online_data import CONCURRENCY, REFS, Scale, min_idle_wait
from bench.online_reads import batches_of_ids
from bench.report import percentiles_ms, wait_for_idle


def _free_port() -> int:
    from featurekit.services.ports import free_port

    return free_port()


def asgi_entry_point(repo: Path) -> str:
    """A uvicorn factory serving the bare Feast ``repo`` with the kit's handler (``app_for(repo=...)``), written as
    ``bench_asgi.py`` into ``repo``; returns its ``module:function`` for ``uvicorn --factory --app-dir repo``."""
    (repo / "bench_asgi.py").write_text(
        "from pathlib import Path\n\nfrom featurekit.serving.wiring import app_for\n\n\n"
        f"def app():\n    return app_for(repo=Path({str(repo)!r}))\n"
    )
    return "bench_asgi:app"


def start_server(command: list[str], port: int, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(cwd / f"server-{port}.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}: {(cwd / f'server-{port}.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not become healthy: {command}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def request_bytes(ids: list[int]) -> bytes:
    import orjson

    body = orjson.dumps({"features": REFS, "entities": {"user_id": ids}, "full_feature_names": False})
    head = (
        f"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def _client(
    port: int,
    requests: list[bytes],
    offset: int,
    stop_at: float,
    limit: int | None,
    latencies: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    perf = time.perf_counter
    i = offset
    done = 0
    try:
        while perf() < stop_at and (limit is None or done < limit):
            payload = requests[i % len(requests)]
            i += 1
            t0 = perf()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            latencies.append(perf() - t0)
            done += 1
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head[:40].decode(errors="replace") + body[:200].decode(errors="replace"))
    finally:
        writer.close()


def load(port: int, requests: list[bytes], *, clients: int, seconds: float, limit: int | None = None) -> dict:
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        stop_at = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *[_client(port, requests, c * 7919, stop_at, limit, latencies, errors) for c in range(clients)]
        )
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "latency_ms": percentiles_ms(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def pool_only_environment(workdir: Path) -> Path:
    """The local environment with ``serving.inline_max_entities: 0`` (every read on the thread pool), written as an
    environment file of its own: the candidate differs from the kit's server in that one setting and nothing else."""
    import yaml

    from featurekit.config.loader import environment_file, project_root

    raw = yaml.safe_load(environment_file("local", project_root()).read_text())
    raw["serving"]["inline_max_entities"] = 0
    path = workdir / "pool-only" / "local.yaml"  # same stem: the environment is still called "local"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def server_phase(scale: Scale, name: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    port = _free_port()
    proc = start_server([*command, "-p" if name == "stock" else "--port", str(port)], port, cwd, env)
    try:
        requests = [request_bytes(b) for b in batches_of_ids(scale, 1, 5000, seed=11)]
        load(port, requests, clients=1, seconds=2.0, limit=200)  # warm-up (connections, plans, caches)
        wait_for_idle()  # the sequential tail latency is the most load-sensitive number: wait the longest
        sequential = load(port, requests, clients=1, seconds=60.0, limit=scale.server_sequential)
        wait_for_idle(timeout_s=min_idle_wait())
        cpu_before = server_cpu_s(proc.pid)
        concurrent = load(port, requests, clients=CONCURRENCY, seconds=scale.server_seconds)
        concurrent["server_cpu_ms_per_request"] = (server_cpu_s(proc.pid) - cpu_before) * 1000 / concurrent["requests"]
        return {"sequential_b1": sequential, "concurrent_b1": concurrent}
    finally:
        stop_server(proc)


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a server process and its children (stock's gunicorn worker).

    Per request, this is the figure a loaded machine disturbs least: req/s drops when other processes take the
    CPUs, CPU per request much less; it is what bounds a worker's req/s once it has a core to itself."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total
