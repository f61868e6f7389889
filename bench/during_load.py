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

JSON key ``during_load``: ``idle`` and ``load`` latencies per batch, ``p99_ratio`` (load / idle per batch),
``errors``, ``missing_values``, ``reads_checked``, the materialization's passes, seconds and rows/s,
``redis_script_ms`` (Redis's execution time per write-script call during the load, from its SLOWLOG), and
``targets`` (p99 ratio <= 2, zero errors, zero missing values).
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
) -> dict[str, Any]:
    """The phase (see the module docstring); ``source`` is the newer dataset the child materializes. With
    ``redis_url``, Redis's own time per write-script call during the load is read from its SLOWLOG."""
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


def show(r: dict[str, Any]) -> None:
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
    print_table("during_load: reads while a full materialization runs", ["metric", "idle", "load", "ratio"], rows)


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
    """The phase inside ``bench online``: writes the newer dataset, then :func:`measure`.

    The copy is 30 s newer than the materialized rows (each user's newest row is at least a minute old, so still in
    the past) and older than the push phase's rows (``now`` + 1 s), which therefore still apply afterwards."""
    from bench.online import write_dataset

    source = workdir / "load.parquet"
    write_dataset(source, scale, now + timedelta(seconds=30))
    idle_reads, min_seconds = LOAD.get(scale.name, LOAD["full"])
    return measure(
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
    )


def child(args: argparse.Namespace) -> None:
    """Materialize ``--source`` into the repo's store, in full passes, for at least ``--min-seconds``."""
    from feast import FeatureStore

    from bench.online import _quiet, materialize_featurekit
    from bench.report import Stopwatch

    markers = Path(args.markers)
    with _quiet():
        fs = FeatureStore(repo_path=args.repo)
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    passes: list[float] = []
    watch = Stopwatch()
    (markers / "loading").touch()
    began = time.perf_counter()
    while not passes or time.perf_counter() - began < args.min_seconds:
        passes.append(materialize_featurekit(fs, Path(args.source), start, end, watch, wait_idle=False))
    (markers / "done").touch()
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.source).metadata.num_rows
    out = {
        "passes": len(passes),
        "pass_seconds": passes,
        "rows_per_pass": rows,
        "first_pass_rows_per_s": rows / passes[0],
        "rows_per_s": rows * len(passes) / sum(passes),
    }
    print("RESULT " + json.dumps(out), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the load of bench online's during_load phase")
    for name in ("--repo", "--source", "--start", "--end", "--markers"):
        parser.add_argument(name, required=True)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    child(parser.parse_args(argv))


if __name__ == "__main__":
    main()
