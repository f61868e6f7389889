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
    from featurekit.serving import OnlineFeatureReader

    online, during_load, _ = bench
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
        )
    finally:
        reader.close()

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
