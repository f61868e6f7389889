"""Offline-store layout: ``<root>/<feature_view>/ds=<partition>/<writer>-<id>.parquet``.

The partition is the interval's start at the view's grain (``2026-01-01`` daily, ``2026-01-01T13`` hourly). Each
writer owns a file-name prefix inside a partition: the batch extract replaces only ``batch-*`` files, the streaming
sink appends ``stream-*`` files, so a rerun of the extract never deletes streamed rows.
"""

from __future__ import annotations

from datetime import datetime

from featurekit.intervals import utc

PARTITION_KEY = "ds"
TIMESTAMP_FIELD = "event_timestamp"
CREATED_FIELD = "created"
BATCH_PREFIX = "batch-"
STREAM_PREFIX = "stream-"
SOURCE_OWNER = "feature-platform@featurekit.example"  # owner of the Feast data sources the kit builds
_FORMATS = {"daily": "%Y-%m-%d", "hourly": "%Y-%m-%dT%H"}


def partition_value(start: datetime, grain: str) -> str:
    """The partition name for an interval starting at ``start`` with the view's grain."""
    try:
        return utc(start).strftime(_FORMATS[grain])
    except KeyError:
        raise ValueError(f"unknown partition grain {grain!r}; expected one of {sorted(_FORMATS)}") from None


def partition_dir(view: str, partition: str) -> str:
    """Relative directory of one partition under the offline root."""
    return f"{view}/{PARTITION_KEY}={partition}"
