"""Compact the stream sink's per-micro-batch offline files into one file per partition.

With a 1 s trigger the sink writes up to 86,400 small ``stream-*`` files per view and day; Athena and DuckDB pay per
file. Once a partition's day is over (older than ``min_age_days``, so the running query no longer writes there except
for rare late events), its ``stream-*`` files are rewritten as one ``stream-compacted-<id>.parquet`` and the inputs
deleted. The new file is in place before any input is deleted, so a reader sees every row at all times (briefly
twice, which point-in-time joins tolerate: they pick one row per key and time).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow.dataset as ds

from featurekit.offline.layout import STREAM_PREFIX, partition_dir
from featurekit.offline.storage import OfflineLocation

COMPACTED_PREFIX = f"{STREAM_PREFIX}compacted-"


@dataclass(frozen=True)
class CompactionResult:
    view: str
    partition: str
    files_in: int
    rows: int
    file_out: str | None


def compact_partition(location: OfflineLocation, view: str, partition: str) -> CompactionResult:
    """Rewrite the ``stream-*`` files of one partition as one file (nothing to do with fewer than two)."""
    files = location.files(partition_dir(view, partition), STREAM_PREFIX)
    if len(files) < 2:
        return CompactionResult(view, partition, len(files), 0, None)
    table = ds.dataset(files, filesystem=location.fs, format="parquet").to_table()
    target = location.append(view, partition, table, f"{COMPACTED_PREFIX}{uuid.uuid4().hex}.parquet")
    for path in files:
        location.fs.delete_file(path)
    return CompactionResult(view, partition, len(files), table.num_rows, target)


def compact_view(
    location: OfflineLocation, view: str, *, min_age_days: int = 2, now: datetime | None = None
) -> list[CompactionResult]:
    """Compact every partition of ``view`` whose day ended at least ``min_age_days`` ago."""
    today = (now or datetime.now(UTC)).date()
    cutoff = today - timedelta(days=min_age_days)
    results = []
    for partition in location.partitions(view):
        day = datetime.fromisoformat(partition[:10]).date()
        if day <= cutoff:
            results.append(compact_partition(location, view, partition))
    return results
