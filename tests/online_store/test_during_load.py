"""``bench online``'s during_load phase at a small size: reads go on while a full materialization of the same
views runs in another process on the same Redis, with zero errors and no value that existed before the load ever
missing (timings are the benchmark's business, not this test's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from featurekit.cli.bench import load_bench_module


@pytest.fixture(scope="module")
def bench():
    return load_bench_module("online"), load_bench_module("during_load"), load_bench_module("report")


def materialized(bench, redis_url: str, tmp_path: Path, entities: int, versions: int):
    """The benchmark's repo and dataset at a small size, materialized with the benchmark's featurekit path."""
    from feast import FeatureStore

    online, _, report = bench
    scale = online.Scale("test", entities, versions, 0, {}, 0.0, 0)
    now = datetime.now(UTC).replace(microsecond=0)
    source = tmp_path / "source.parquet"
    online.write_dataset(source, scale, now)
    repo = tmp_path / "repo"
    online.write_repo(
        repo,
        {
            "type": "featurekit.online_store.store.TieredRedisOnlineStore",
            "tiers": {"hot": {"url": redis_url}, "warm": {"url": redis_url}},
            "default_tier": "warm",
            "bucket_bits": online.bucket_bits_for(scale.entities),
        },
    )
    fs = FeatureStore(repo_path=str(repo))
    fs.apply(online.feast_objects(source))
    start, end = now - timedelta(days=31), now + timedelta(minutes=1)
    online.materialize_featurekit(fs, source, start, end, report.Stopwatch(), wait_idle=False)
    return fs, scale, repo, now, start, end


def test_reads_during_a_full_materialization_see_every_value(bench, redis_url: str, tmp_path: Path) -> None:
    """With the split the phase's targets use when there are two or more cores (the reader on its own core, Redis
    and the load at nice 19 on the other), and every affinity restored after."""
    import os

    import redis

    from featurekit.serving import OnlineFeatureReader

    cores_mod = load_bench_module("cores")
    online, during_load, _ = bench
    cores = cores_mod.core_split()
    client = redis.Redis.from_url(redis_url)
    redis_pid = int(client.info("server")["process_id"])
    client.close()
    affinity_before = os.sched_getaffinity(0), os.sched_getaffinity(redis_pid)
    fs, scale, repo, now, start, end = materialized(bench, redis_url, tmp_path, 3_000, 3)
    newer = tmp_path / "load.parquet"
    online.write_dataset(newer, scale, now + timedelta(seconds=30))
    reader = OnlineFeatureReader.from_feature_store(fs)
    try:
        result = during_load.measure(
            reader=reader,
            refs=online.REFS,
            entities=scale.entities,
            repo=repo,
            source=newer,
            start=start,
            end=end,
            idle_reads=20,
            min_load_seconds=1.5,
            workdir=tmp_path,
            redis_url=redis_url,
            cores=cores,
        )
    finally:
        reader.close()

    assert (os.sched_getaffinity(0), os.sched_getaffinity(redis_pid)) == affinity_before
    if cores["possible"]:
        assert result["cores"] == {
            "mode": "split",
            "serve_cpus": cores["serve_cpus"],
            "redis_cpus": cores["redis_cpus"],
            "load_cpus": cores["load_cpus"],
            "load_nice": 19,
            "redis_pinned": True,  # the test Redis is local
        }
        assert result["materialize"]["cpus"] == cores["load_cpus"]
        assert result["materialize"]["duckdb_threads"] == len(cores["load_cpus"])
        assert result["materialize"]["nice"] >= 19
    else:
        assert result["cores"] == {"mode": "shared"} and cores["reason"]

    assert result["errors"] == 0, result["first_error"]
    assert result["missing_values"] == 0
    assert result["load_ms"]["1"]["n"] > 0 and result["load_ms"]["100"]["n"] > 0  # reads really overlapped
    assert result["reads_checked"] > 100 * result["load_ms"]["100"]["n"]
    assert result["materialize"]["passes"] >= 1 and result["materialize"]["rows_per_pass"] == 9_000
    assert result["redis_script_ms"]["n"] >= 9_000 * result["materialize"]["passes"] // 2_000  # the load's calls
    targets = result["targets"]
    assert targets["during_load_errors==0"] and targets["during_load_missing_values==0"]


def test_the_checker_counts_a_value_that_disappears(bench, redis_url: str, tmp_path: Path) -> None:
    """The property check itself can fail: deleting a sampled entity's rows makes its reads count as missing."""
    import numpy as np
    import redis

    from featurekit.serving import OnlineFeatureReader

    online, during_load, _ = bench
    fs, *_ = materialized(bench, redis_url, tmp_path, 200, 1)
    reader = OnlineFeatureReader.from_feature_store(fs)
    try:
        checker = during_load.Checker(reader, online.REFS, np.arange(1, 201, dtype=np.int64))
        checker.read([1, 2, 3])
        assert (checker.missing, checker.errors) == (0, [])
        redis.Redis.from_url(redis_url).flushall()
        checker.read([1, 2, 3])
        assert checker.missing == 3 * len(online.REFS)
    finally:
        reader.close()


def test_core_split_gives_the_load_its_own_cores_or_says_why_not(bench) -> None:
    cores = load_bench_module("cores")
    assert cores.core_split([0, 1]) == {
        "possible": True,
        "cpus": [0, 1],
        "serve_cpus": [0],  # the reader
        "redis_cpus": [1],
        "load_cpus": [1],  # beside Redis, at a nice value that leaves Redis the core whenever it wants it
        "load_nice": 19,
    }
    assert cores.core_split([3, 1, 2])["serve_cpus"] == [1, 2] and cores.core_split([3, 1, 2])["load_cpus"] == [3]
    four = cores.core_split([0, 1, 2, 3])
    assert (four["serve_cpus"], four["load_cpus"]) == ([0, 1], [2, 3])
    one = cores.core_split([0])
    assert one["possible"] is False and "only 1 core" in one["reason"]


def test_pinned_moves_every_thread_of_a_process_and_restores_them(bench) -> None:
    """A child with two threads is pinned to one core inside the block, back on all its cores after."""
    import os
    import subprocess
    import sys
    import time

    cores = load_bench_module("cores")
    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(cores.threads_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        threads = cores.threads_of(proc.pid)
        assert len(threads) == 2
        every = cores.available_cpus()
        target = every[-1:]
        with cores.pinned([proc.pid], target):
            assert [sorted(os.sched_getaffinity(t)) for t in threads] == [target, target]
        assert [sorted(os.sched_getaffinity(t)) for t in threads] == [every, every]
    finally:
        proc.kill()
        proc.wait()


def test_targets_are_computed_on_the_split_run_and_errors_count_in_every_mode(bench) -> None:
    _, during_load, _ = bench

    def run(ratio: float, errors: int = 0) -> dict:
        n = {"1": {"n": 10}, "100": {"n": 10}}
        return {"p99_ratio": {"1": ratio, "100": ratio}, "errors": errors, "missing_values": 0, "load_ms": n}

    split = {"possible": True, "cpus": [0, 1], "serve_cpus": [0], "load_cpus": [1]}
    both = during_load.combine(split, {"split_cores": run(1.5), "shared_cores": run(6.0)})
    assert both["targets_on"] == "split_cores" and all(both["targets"].values())
    assert both["shared_cores"]["p99_ratio"]["1"] == 6.0  # reported beside, not judged
    failed = during_load.combine(split, {"split_cores": run(1.5), "shared_cores": run(1.0, errors=1)})
    assert failed["targets"]["during_load_errors==0"] is False
    alone = during_load.combine({"possible": False, "reason": "only 1 core", "cpus": [0]}, {"shared_cores": run(6.0)})
    assert alone["targets_on"] == "shared_cores" and alone["targets"]["during_load_p99<=2x_idle"] is False
