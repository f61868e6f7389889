"""Serving through a load: read latency while a full materialization of the same views runs on the same Redis.

Stock Feast 0.64+ refuses reads of a view while it materializes (feast#6780); the kit's writer never removes a
value it replaces (newer-wins ``EVALSHA`` per batch of bucket hashes, each atomic), so reads should go on, with
their tail bounded by how long one write batch holds Redis. This phase measures that, in one run:

1. **Sample**: ``SAMPLE`` entities that the earlier materialization wrote; their present features are recorded.
2. **Idle**: the in-process reader (``OnlineFeatureReader``) reads random sample entities at batch 1 and 100,
   alternating, ``idle_reads`` calls each; p50/p99.
3. **During the load**: a child process (``python -m bench.during_load``) materializes a newer copy of the whole
   dataset (every row 30 s newer, so every write applies) into the same Redis with the same code as the
   materialize phase, repeating full passes until ``min_load_seconds`` have passed (reruns after the first pass
   are newer-wins no-ops that still run the write scripts). Meanwhile the parent reads as in step 2; only reads
   between the child's first and last write count. Every read is checked: an exception counts as an error, and a
   feature that was present before the load and comes back missing counts as a missing value.

Steps 1-3 run twice (:func:`run_phase`): ``split_cores``, with this process pinned to its own core(s) and a local
Redis and the load to the others, the load at nice 19 so that Redis gets the CPU whenever it wants it
(``bench/cores.py``; DuckDB's threads match the load's cores), which models production, where the materializer runs
on another host (an Airflow worker) and shares only Redis with the feature server, and Redis has its own host;
then ``shared_cores``, every process on every core, as a single small host would run them. With one core there is
no split run and ``cores.reason`` says why.

JSON key ``during_load``: ``cores`` (the split), ``split_cores`` and ``shared_cores``, each with ``idle`` and
``load`` latencies per batch, ``p99_ratio`` (load / idle per batch), ``errors``, ``missing_values``,
``reads_checked``, the materialization's passes, seconds, rows/s and cores, ``redis_script_ms`` (Redis's execution
time per write-script call during the load, from its SLOWLOG) and its own ``targets``; ``targets_on`` names the
run the phase's ``targets`` are computed on (split when there is one): p99 ratio <= 2, and zero errors and zero
missing values in every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import percentiles_ms, ratio

SAMPLE = 2_000
BATCHES = (1, 100)
P99_RATIO_MAX = 2.0
# Per benchmark scale: idle read rounds (one batch-1 and one batch-100 read each), and the load's minimum length.
LOAD = {"quick": (300, 5.0), "full": (1000, 10.0)}


class Checker:
    """Reads sample entities and checks that every value present before the load is still present."""

    def __init__(self, reader: Any, refs: list[str], sample: np.ndarray) -> None:
        self.reader, self.refs, self.sample = reader, refs, sample
        self.names = [r.split(":", 1)[1] for r in refs]
        self.present: dict[int, np.ndarray] = {}
        for i in range(0, len(sample), 100):
            ids = sample[i : i + 100].tolist()
            values = reader.get_online_features(refs, [{"user_id": u} for u in ids]).to_dict()
            mask = np.array([[values[n][j] is not None for n in self.names] for j in range(len(ids))])
            self.present.update(zip(ids, mask, strict=True))
        self.errors: list[str] = []
        self.missing = 0
        self.checked = 0

    def read(self, ids: list[int]) -> float:
        """One timed read of ``ids``; returns its duration (seconds) and records errors and missing values."""
        t0 = time.perf_counter()
        try:
            values = self.reader.get_online_features(self.refs, [{"user_id": u} for u in ids]).to_dict()
        except Exception as exc:  # a failed read is a result of this phase, not a reason to stop it
            elapsed = time.perf_counter() - t0
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return elapsed
        elapsed = time.perf_counter() - t0
        for j, u in enumerate(ids):
            before = self.present[u]
            now = np.array([values[n][j] is not None for n in self.names])
            self.missing += int(np.count_nonzero(before & ~now))
        self.checked += len(ids)
        return elapsed


class ScriptTimes:
    """Redis's own execution time of each ``EVALSHA`` while the load runs (SLOWLOG at threshold 0): how long one
    write call holds the server, i.e. the longest a read queued behind it waits. The settings are restored after."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.saved = {k: self.client.config_get(k)[k] for k in ("slowlog-log-slower-than", "slowlog-max-len")}
        self.client.config_set("slowlog-max-len", 1_000_000)
        self.client.config_set("slowlog-log-slower-than", 0)
        self.client.slowlog_reset()

    def finish(self) -> dict[str, float]:
        try:
            entries = self.client.slowlog_get(1_000_000)
        finally:
            for key, value in self.saved.items():
                self.client.config_set(key, value)
            self.client.slowlog_reset()
            self.client.close()
        calls = [e["duration"] / 1e6 for e in entries if e["command"][:7].upper() == b"EVALSHA"]
        return percentiles_ms(calls)


def _read_round(checker: Checker, rng: np.random.Generator, samples: dict[int, list[float]]) -> None:
    for batch in BATCHES:
        ids = rng.choice(checker.sample, batch, replace=False).tolist()
        samples[batch].append(checker.read(ids))


def measure(
    *,
    reader: Any,
    refs: list[str],
    entities: int,
    repo: Path,
    source: Path,
    start: datetime,
    end: datetime,
    idle_reads: int,
    min_load_seconds: float,
    workdir: Path,
    redis_url: str | None = None,
    cores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The phase (see the module docstring); ``source`` is the newer dataset the child materializes. With
    ``redis_url``, Redis's own time per write-script call during the load is read from its SLOWLOG. With ``cores``
    (a possible :func:`bench.cores.core_split`), this process runs on ``serve_cpus``, a local Redis on
    ``redis_cpus`` and the load on ``load_cpus`` at nice ``load_nice`` (DuckDB threads to match), idle reads
    included; without, everything shares every core."""
    from bench.cores import local_redis_pid, pinned

    if cores is not None and cores.get("possible"):
        redis_pids: list[int] = []
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            redis_pid = local_redis_pid(client)
            client.close()
            redis_pids = [] if redis_pid is None else [redis_pid]
        with pinned([os.getpid()], cores["serve_cpus"]), pinned(redis_pids, cores["redis_cpus"]):
            result = _measure(
                reader, refs, entities, repo, source, start, end, idle_reads, min_load_seconds, workdir, redis_url,
                cores["load_cpus"], cores["load_nice"],
            )  # fmt: skip
        result["cores"] = {
            "mode": "split",
            "serve_cpus": cores["serve_cpus"],
            "redis_cpus": cores["redis_cpus"],
            "load_cpus": cores["load_cpus"],
            "load_nice": cores["load_nice"],
            "redis_pinned": bool(redis_pids),
        }
        return result
    result = _measure(
        reader, refs, entities, repo, source, start, end, idle_reads, min_load_seconds, workdir, redis_url, None, 0
    )
    result["cores"] = {"mode": "shared"}
    return result


def _measure(
    reader: Any,
    refs: list[str],
    entities: int,
    repo: Path,
    source: Path,
    start: datetime,
    end: datetime,
    idle_reads: int,
    min_load_seconds: float,
    workdir: Path,
    redis_url: str | None,
    load_cpus: list[int] | None,
    load_nice: int,
) -> dict[str, Any]:
    from featurekit.config import project_root

    rng = np.random.default_rng(5)
    sample = rng.choice(np.arange(1, entities + 1, dtype=np.int64), min(SAMPLE, entities), replace=False)
    checker = Checker(reader, refs, sample)
    for _ in range(20):  # warm-up
        _read_round(checker, rng, {b: [] for b in BATCHES})
    idle: dict[int, list[float]] = {b: [] for b in BATCHES}
    for _ in range(idle_reads):
        _read_round(checker, rng, idle)

    loading, done = workdir / "loading", workdir / "done"
    for marker in (loading, done):
        marker.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.during_load", "--repo", str(repo), "--source", str(source)]
    command += ["--start", start.isoformat(), "--end", end.isoformat(), "--min-seconds", str(min_load_seconds)]
    command += ["--markers", str(workdir)]
    if load_cpus is not None:
        command += ["--cpus", ",".join(map(str, load_cpus)), "--nice", str(load_nice)]
    child = subprocess.Popen(
        command, cwd=project_root(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    load: dict[int, list[float]] = {b: [] for b in BATCHES}
    slowlog = ScriptTimes(redis_url) if redis_url else None
    while child.poll() is None and not done.exists():
        if loading.exists():
            _read_round(checker, rng, load)
        else:
            time.sleep(0.01)
    out, err = child.communicate()
    script_ms = slowlog.finish() if slowlog else None
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the load's materialization failed ({child.returncode}): {err[-2000:]}")
    materialize = json.loads(lines[-1].removeprefix("RESULT "))
    result: dict[str, Any] = {
        "idle_ms": {str(b): percentiles_ms(idle[b]) for b in BATCHES},
        "load_ms": {str(b): percentiles_ms(load[b]) for b in BATCHES},
        "errors": len(checker.errors),
        "first_error": checker.errors[0] if checker.errors else None,
        "missing_values": checker.missing,
        "reads_checked": checker.checked,
        "sample_entities": len(sample),
        "materialize": materialize,
        "redis_script_ms": script_ms,
    }
    result["p99_ratio"] = {
        b: ratio(result["load_ms"][b]["p99"], result["idle_ms"][b]["p99"]) for b in result["idle_ms"]
    }
    result["targets"] = targets(result)
    return result


def show(phase: dict[str, Any]) -> None:
    """One table per mode, the mode the targets are computed on first."""
    basis = phase["targets_on"]
    for mode in [basis, *[m for m in ("split_cores", "shared_cores") if m != basis and m in phase]]:
        show_mode(phase[mode], f"{mode}{' (targets)' if mode == basis else ''}")
    if not phase["cores"]["possible"]:
        print(f"during_load: no split-cores run: {phase['cores']['reason']}")


def show_mode(r: dict[str, Any], mode: str) -> None:
    from bench.report import print_table

    rows: list[tuple[Any, ...]] = [
        (f"b{b} p50 / p99 ms", f"{r['idle_ms'][b]['p50']:.3f} / {r['idle_ms'][b]['p99']:.3f}",
         f"{r['load_ms'][b]['p50']:.3f} / {r['load_ms'][b]['p99']:.3f}", r["p99_ratio"][b])
        for b in r["idle_ms"]
    ]  # fmt: skip
    m = r["materialize"]
    rows += [
        ("reads during the load (b1 / b100)", "", f"{r['load_ms']['1']['n']} / {r['load_ms']['100']['n']}", ""),
        ("errors / missing values", "", f"{r['errors']} / {r['missing_values']}", ""),
        ("materialize passes, rows/s (first pass)", "", f"{m['passes']}, {m['first_pass_rows_per_s']:,.0f}", ""),
    ]
    sc = r.get("redis_script_ms")
    if sc and sc["n"]:
        times = f"{sc['p50']:.2f} / {sc['p99']:.2f} / {sc['max']:.2f}"
        rows.append(("Redis time per write call p50 / p99 / max ms", "", times, ""))
    cores = r.get("cores", {})
    if cores.get("mode") == "split":
        where = f"reads on cores {cores['serve_cpus']}, Redis and the load (nice {cores['load_nice']}) on"
        where += f" {cores['load_cpus']}" + ("" if cores["redis_pinned"] else " (Redis not pinned: not local)")
    else:
        where = "load, reads and Redis share every core"
    print_table(f"during_load, {mode}: reads while a full materialization runs ({where})",
                ["metric", "idle", "load", "ratio"], rows)  # fmt: skip


def targets(r: dict[str, Any]) -> dict[str, bool]:
    return {
        f"during_load_p99<={P99_RATIO_MAX:g}x_idle": all(v <= P99_RATIO_MAX for v in r["p99_ratio"].values()),
        "during_load_errors==0": r["errors"] == 0,
        "during_load_missing_values==0": r["missing_values"] == 0,
        "during_load_reads>0": all(r["load_ms"][b]["n"] > 0 for b in r["load_ms"]),
    }


def run_phase(
    scale: Any,
    reader: Any,
    refs: list[str],
    repo: Path,
    workdir: Path,
    now: datetime,
    start: datetime,
    end: datetime,
    redis_url: str | None = None,
) -> dict[str, Any]:
    """The phase inside ``bench online``: :func:`measure` with the load on its own core(s) (``split_cores``, when
    the machine has two or more), then with every process sharing every core (``shared_cores``); see
    :func:`combine`.

    Each measurement loads its own newer copy of the dataset, so every row of its first pass applies: 30 s, then
    45 s newer than the materialized rows (each user's newest row is at least a minute old, so still in the past)
    and older than the push phase's rows (``now`` + 1 s), which therefore still apply afterwards."""
    from bench.cores import core_split
    from bench.online_data import write_dataset

    idle_reads, min_seconds = LOAD.get(scale.name, LOAD["full"])
    cores = core_split()
    modes: list[tuple[str, dict[str, Any] | None]] = [("split_cores", cores)] if cores["possible"] else []
    modes.append(("shared_cores", None))
    results = {}
    for i, (mode, split) in enumerate(modes):
        source = workdir / f"load-{mode}.parquet"
        write_dataset(source, scale, now + timedelta(seconds=30 + 15 * i))
        results[mode] = measure(
            reader=reader,
            refs=refs,
            entities=scale.entities,
            repo=repo,
            source=source,
            start=start,
            end=end,
            idle_reads=idle_reads,
            min_load_seconds=min_seconds,
            workdir=workdir,
            redis_url=redis_url,
            cores=split,
        )
    return combine(cores, results)


def combine(cores: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON ``during_load`` block: each measurement under its mode, ``cores`` (the split, or why there is none),
    and ``targets`` computed on ``targets_on``: the split-cores run when there is one (it models production, where
    the materializer runs on another host and shares only Redis with serving), else the shared one. Errors and
    missing values must be zero in every mode."""
    basis = "split_cores" if "split_cores" in results else "shared_cores"
    out: dict[str, Any] = {"cores": cores, **results, "targets_on": basis}
    checked = targets(results[basis])
    for r in results.values():
        for name in ("during_load_errors==0", "during_load_missing_values==0", "during_load_reads>0"):
            checked[name] = checked[name] and targets(r)[name]
    out["targets"] = checked
    return out


def child(args: argparse.Namespace) -> None:
    """Materialize ``--source`` into the repo's store, in full passes, for at least ``--min-seconds``."""
    from feast import FeatureStore

    from bench.online_data import materialize_featurekit, quiet_feast
    from bench.report import Stopwatch

    threads = None
    if args.cpus:
        from bench.cores import pin

        cpus = [int(c) for c in args.cpus.split(",")]
        pin(os.getpid(), cpus)  # before DuckDB starts its threads, which inherit it (and the nice value)
        threads = len(cpus)
    if args.nice:
        os.nice(args.nice)
    markers = Path(args.markers)
    with quiet_feast():
        fs = FeatureStore(repo_path=args.repo)
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    passes: list[float] = []
    watch = Stopwatch()
    (markers / "loading").touch()
    began = time.perf_counter()
    while not passes or time.perf_counter() - began < args.min_seconds:
        passes.append(
            materialize_featurekit(fs, Path(args.source), start, end, watch, wait_idle=False, threads=threads)
        )
    (markers / "done").touch()
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.source).metadata.num_rows
    out = {
        "passes": len(passes),
        "pass_seconds": passes,
        "rows_per_pass": rows,
        "first_pass_rows_per_s": rows / passes[0],
        "rows_per_s": rows * len(passes) / sum(passes),
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "duckdb_threads": threads,
        "nice": os.nice(0),
    }
    print("RESULT " + json.dumps(out), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the load of bench online's during_load phase")
    for name in ("--repo", "--source", "--start", "--end", "--markers"):
        parser.add_argument(name, required=True)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    parser.add_argument("--nice", type=int, default=0, help="nice increment of the load")
    parser.add_argument("--cpus", default="", help="comma-separated cores to pin the load to (DuckDB threads match)")
    child(parser.parse_args(argv))


if __name__ == "__main__":
    main()
