"""CPU pinning for benchmarks that model two hosts on one machine.

In production the materializer runs on another host (an Airflow worker) and shares only Redis with the feature
server, and Redis has its own host too. On two cores the closest model measured (docs/performance.md) gives the
reader its own core(s) and puts Redis and the load on the others with the load at ``LOAD_NICE``, so Redis gets
the CPU whenever it wants it and the load only what Redis leaves, as a Redis-bound materializer on another host
would: :func:`core_split` decides the split from the cores this process may use, :func:`pin` moves every thread of a
process onto a set of cores and :func:`pinned` does so for the duration of a ``with`` block, restoring the previous
affinity after. Linux only (``os.sched_setaffinity``); elsewhere the split reports that pinning is impossible.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def available_cpus() -> list[int]:
    """The cores this process may run on (its affinity, not the machine's core count)."""
    if not hasattr(os, "sched_getaffinity"):
        return list(range(os.cpu_count() or 1))
    return sorted(os.sched_getaffinity(0))


LOAD_NICE = 19


def core_split(cpus: list[int] | None = None) -> dict[str, Any]:
    """Split ``cpus`` (default: :func:`available_cpus`) into the reader's cores (``serve_cpus``) and the cores of
    Redis and the load (``redis_cpus`` = ``load_cpus``, the load at nice ``load_nice``).

    With two or more cores Redis and the load get the upper half (at least one) and the reader the rest; with one,
    pinning is impossible (``possible`` false and a ``reason``)."""
    cpus = sorted(cpus if cpus is not None else available_cpus())
    if not hasattr(os, "sched_setaffinity"):
        return {"possible": False, "reason": "this platform has no os.sched_setaffinity", "cpus": cpus}
    if len(cpus) < 2:
        return {"possible": False, "reason": f"only {len(cpus)} core available to this process", "cpus": cpus}
    load = max(1, len(cpus) // 2)
    return {
        "possible": True,
        "cpus": cpus,
        "serve_cpus": cpus[: len(cpus) - load],
        "redis_cpus": cpus[-load:],
        "load_cpus": cpus[-load:],
        "load_nice": LOAD_NICE,
    }


def threads_of(pid: int) -> list[int]:
    """Every thread id of process ``pid`` (``pid`` alone when /proc is not there)."""
    try:
        return sorted(int(t.name) for t in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return [pid]


def pin(pid: int, cpus: list[int]) -> dict[int, set[int]]:
    """Move every thread of ``pid`` onto ``cpus``; returns each thread's previous affinity (for :func:`unpin`).
    Threads started later inherit the affinity of the thread that starts them."""
    before: dict[int, set[int]] = {}
    for tid in threads_of(pid):
        try:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:  # the thread ended meanwhile
            before.pop(tid, None)
    return before


def unpin(before: dict[int, set[int]]) -> None:
    for tid, cpus in before.items():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, cpus)


@contextlib.contextmanager
def pinned(pids: list[int], cpus: list[int]) -> Iterator[None]:
    """Every thread of each process in ``pids`` on ``cpus`` inside the block; the previous affinities after."""
    saved: list[dict[int, set[int]]] = []
    try:
        for pid in pids:
            saved.append(pin(pid, cpus))
        yield
    finally:
        for before in saved:
            unpin(before)


def local_redis_pid(client: Any) -> int | None:
    """The pid of the Redis server behind ``client`` when it runs on this machine (its ``process_id`` is a
    ``redis-server`` process here), else None: a remote Redis cannot be pinned."""
    pid = int(client.info("server")["process_id"])
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm.startswith("redis-server") else None


__all__ = ["LOAD_NICE", "available_cpus", "core_split", "local_redis_pid", "pin", "pinned", "threads_of", "unpin"]
