"""The ``feast serve`` phase of the Feast-API benchmark: req/s, latency and server CPU per request.

On a shared machine req/s and latency measure the other jobs as much as the server: each system's figure moved
3-4x between runs. What a request costs the server is more stable: the CPU time (user + system, from
``/proc`` through psutil) the server's processes used during a load window, divided by the requests served. The
phase runs three ``feast serve -w 1`` processes side by side, stock, featurekit and the floor
(:mod:`bench.feast_floor`: Feast's own per-request cost with a store that does nothing), alternates 8-client
load between them in rounds so that outside load hits all alike, and reports per system req/s, latency and
CPU-ms per request; the floor splits each total into Feast's server part and the store's part.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.http_load import load, server_cpu_s, start_server, stop_server
from bench.report import wait_for_idle

CONCURRENCY = 8
SYSTEMS = ("stock", "featurekit", "floor")


def request_bytes(refs: list[str], ids: list[int]) -> bytes:
    import orjson

    body = orjson.dumps({"features": refs, "entities": {"user_id": ids}, "full_feature_names": False})
    head = (
        f"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def measured_load(port: int, pid: int, requests: list[bytes], **kwargs: Any) -> dict[str, Any]:
    """:func:`bench.http_load.load` plus the server's CPU-ms per request over the same window."""
    before = server_cpu_s(pid)
    out = load(port, requests, **kwargs)
    out["cpu_s"] = server_cpu_s(pid) - before
    out["cpu_ms_per_request"] = 1000 * out["cpu_s"] / out["requests"] if out["requests"] else float("nan")
    return out


def serve_phase(
    repos: dict[str, Path], refs: list[str], entities: int, *, seconds: float, sequential: int, rounds: int = 3
) -> dict[str, Any]:
    """Every system in ``repos`` (``stock``, ``featurekit``, ``floor``) under ``feast serve -w 1 --max-requests 0``:
    ``sequential`` batch-1 requests one at a time, then ``rounds`` rounds of 8 keep-alive clients, each system
    ``seconds / rounds`` per round in rotation; req/s and CPU per request are totals over the rounds."""
    from featurekit.config import project_root
    from featurekit.services.ports import free_port

    feast_bin = str(Path(sys.executable).with_name("feast"))
    rng = np.random.default_rng(11)
    requests = [request_bytes(refs, [int(i)]) for i in rng.integers(1, entities + 1, 5000)]
    # The floor store is imported from bench/ by the server: the repository root goes on its path (all alike).
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(project_root()), os.environ.get("PYTHONPATH")]))}
    servers: dict[str, tuple[int, Any]] = {}
    try:
        for name, repo in repos.items():
            port = free_port()
            command = [feast_bin, "serve", "-h", "127.0.0.1", "-p", str(port), "-w", "1", "--max-requests", "0"]
            servers[name] = (port, start_server([*command, "--no-access-log"], port, repo, env))
            load(port, requests, clients=1, seconds=2.0, limit=200)  # warm-up: connections, plans, caches
        out: dict[str, Any] = {}
        for name, (port, proc) in servers.items():
            wait_for_idle()
            out[name] = {
                "sequential_b1": measured_load(port, proc.pid, requests, clients=1, seconds=60.0, limit=sequential)
            }
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(rounds):
            for name, (port, proc) in servers.items():
                runs[name].append(
                    measured_load(port, proc.pid, requests, clients=CONCURRENCY, seconds=seconds / rounds)
                )
        for name, parts in runs.items():
            total = sum(p["requests"] for p in parts)
            elapsed = sum(p["seconds"] for p in parts)
            cpu = sum(p["cpu_s"] for p in parts)
            out[name]["concurrent_b1"] = {
                "requests": total,
                "seconds": elapsed,
                "rps": total / elapsed,
                "rounds_rps": [p["rps"] for p in parts],
                "cpu_ms_per_request": 1000 * cpu / total if total else float("nan"),
                "rounds_cpu_ms_per_request": [p["cpu_ms_per_request"] for p in parts],
                "latency_ms": max((p["latency_ms"] for p in parts), key=lambda m: m["p99"]),  # worst round
                "errors": sum(p["errors"] for p in parts),
                "first_error": next((p["first_error"] for p in parts if p["first_error"]), None),
            }
        if "floor" in out:
            out["cpu_split"] = cpu_split(out)
        return out
    finally:
        for _, proc in servers.values():
            stop_server(proc)


def cpu_split(server: dict[str, Any]) -> dict[str, Any]:
    """Server CPU per request split into Feast's own part (the floor) and each store's part, and the best req/s
    ratio any store could reach against stock: stock's total over the floor (a store that costs nothing)."""
    out: dict[str, Any] = {}
    for mode in ("sequential_b1", "concurrent_b1"):
        floor = server["floor"][mode]["cpu_ms_per_request"]
        stock = server["stock"][mode]["cpu_ms_per_request"]
        fk = server["featurekit"][mode]["cpu_ms_per_request"]
        out[mode] = {
            "feast_server_cpu_ms": floor,
            "stock_store_cpu_ms": stock - floor,
            "featurekit_store_cpu_ms": fk - floor,
            "cpu_speedup": stock / fk if fk else float("nan"),
            "store_cpu_speedup": (stock - floor) / (fk - floor) if fk > floor else float("inf"),
            "max_attainable_speedup": stock / floor if floor else float("nan"),
        }
    return out
