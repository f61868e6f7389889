"""Compaction of the stream sink's per-batch offline files: same rows, one file, only closed partitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from featurekit.offline.parquet import ParquetOfflineStore
from featurekit.offline.storage import offline_location
from featurekit.streaming.compaction import COMPACTED_PREFIX, compact_view


def rows(user: int) -> pa.Table:
    return pa.table({"user_id": pa.array([user], pa.int64()), "balance": [float(user)]})


def test_closed_partitions_become_one_file_with_the_same_rows(tmp_path):
    location = offline_location(ParquetOfflineStore(root=tmp_path))
    for batch in range(3):
        location.append("v", "2026-06-01", rows(batch), f"stream-q-{batch:012d}.parquet")
        location.append("v", "2026-06-05", rows(10 + batch), f"stream-q-{batch:012d}.parquet")
    location.append("v", "2026-06-01", rows(99), "batch-x.parquet")  # the batch extract's file is left alone

    results = compact_view(location, "v", min_age_days=2, now=datetime(2026, 6, 5, 12, tzinfo=UTC))

    assert [(r.partition, r.files_in, r.rows) for r in results] == [("2026-06-01", 3, 3)]
    names = sorted(p.rsplit("/", 1)[1] for p in location.files("v/ds=2026-06-01"))
    assert names[0] == "batch-x.parquet" and names[1].startswith(COMPACTED_PREFIX) and len(names) == 2
    assert sorted(location.read_partition("v", "2026-06-01").column("user_id").to_pylist()) == [0, 1, 2, 99]
    assert len(location.files("v/ds=2026-06-05", "stream-")) == 3  # still open: untouched


def test_compaction_on_s3(s3_endpoint):
    from featurekit.offline.athena import AthenaOfflineStore

    store = AthenaOfflineStore(
        s3_root="s3://checkpoints/offline", database="d", workgroup="w", results_location="s3://x/", region="us-east-1"
    )
    location = offline_location(store)
    for batch in range(2):
        location.append("v", "2026-06-01", rows(batch), f"stream-q-{batch:012d}.parquet")
    (result,) = compact_view(location, "v", min_age_days=1, now=datetime(2026, 6, 3, tzinfo=UTC))
    assert (result.files_in, result.rows) == (2, 2)
    assert len(location.files("v/ds=2026-06-01")) == 1
    assert sorted(location.read_partition("v", "2026-06-01").column("user_id").to_pylist()) == [0, 1]
