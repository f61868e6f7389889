"""Which offline files training may read: batch files only once their batch passed validation.

Between extract and validate (and after a failed validation) a partition's ``batch-*`` files must not reach a
training set, so the local retrieval (:mod:`featurekit.offline.retrieval`) reads an explicit file list from here
instead of the view's whole glob. Per partition:

* ``batch-*`` files are read only if the partition's validation record (:mod:`featurekit.offline.validation`) passed
  for exactly that batch; otherwise the partition's batch is skipped as ``not_validated`` (never validated, or
  re-extracted since) or ``failed``;
* files of other writers (the streaming sink's ``stream-*``) are always read: each micro-batch was gated by the
  view's expectations when it was written (:mod:`featurekit.quality.stream_gate`).

The record's suite fingerprint is not compared here: editing a suite makes records stale for *materialization*
(re-validate before writing online), but does not hide validated history from training. Skips are returned, logged,
counted and raised as a :class:`SkippedPartitionsWarning`, so a data scientist sees which days are missing and why.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from featurekit.errors import FeaturekitError
from featurekit.metrics import TRAINING_PARTITIONS_SKIPPED_TOTAL
from featurekit.offline.layout import BATCH_PREFIX, PARTITION_KEY, partition_dir
from featurekit.offline.storage import OfflineLocation
from featurekit.offline.validation import RECORDS_DIR, batch_id_of, read_record

log = logging.getLogger(__name__)


class UnvalidatedSourceError(FeaturekitError, RuntimeError):
    """Feast's own ``materialize`` was asked to read batches that have not passed validation."""


class SkippedPartitionsWarning(UserWarning):
    """Training data left out partitions that failed validation or are not validated yet."""


@dataclass
class FileSelection:
    """The files of one view that training reads, and the partitions whose batch was left out (with why)."""

    view: str
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # partition -> "failed" | "not_validated"
    excluded: list[str] = field(default_factory=list)  # the batch files of the skipped partitions still in place

    def message(self) -> str:
        by_reason: dict[str, list[str]] = {}
        for partition, reason in sorted(self.skipped.items()):
            by_reason.setdefault(reason, []).append(f"{PARTITION_KEY}={partition}")
        parts = [f"{reason.replace('_', ' ')}: {', '.join(names)}" for reason, names in sorted(by_reason.items())]
        return (
            f"training data for {self.view} skips {len(self.skipped)} partition batch(es) without a passing "
            f"validation record ({'; '.join(parts)}); validate them (featurekit validate) to include them"
        )


def validated_files(location: OfflineLocation, view: str) -> FileSelection:
    """The view's parquet files training may read (see the module docstring)."""
    selection = FileSelection(view)
    for partition in location.partitions(view):
        files = location.files(partition_dir(view, partition))
        batch = [f for f in files if f.rsplit("/", 1)[-1].startswith(BATCH_PREFIX)]
        selection.files.extend(f for f in files if f not in batch)
        if not batch:
            continue
        record = read_record(location, view, partition)
        if record is not None and record.passed and record.batch_id == batch_id_of(batch):
            selection.files.extend(batch)
        else:
            failed = record is not None and not record.passed and record.batch_id == batch_id_of(batch)
            selection.skipped[partition] = "failed" if failed else "not_validated"
            selection.excluded.extend(batch)
    # A failed batch is moved to quarantine: its partition may be gone or stream-only, but training still lacks it.
    for partition in _failed_partitions(location, view):
        if partition not in selection.skipped and not location.files(partition_dir(view, partition), BATCH_PREFIX):
            selection.skipped[partition] = "failed"
    return selection


def validated_source_files(source_path: str, view: str | None = None) -> FileSelection:
    """:func:`validated_files` for a local ``FileSource`` path laid out as ``<root>/<view>/*/*.parquet``."""
    view_dir = Path(source_path).parent.parent
    root = view_dir.parent
    location = OfflineLocation(pafs.LocalFileSystem(), str(root), str(root))
    return validated_files(location, view or view_dir.name)


def report_skips(selection: FileSelection) -> None:
    """Say which partitions were left out: a log line, a metric per reason and a Python warning (notebooks)."""
    if not selection.skipped:
        return
    for reason in selection.skipped.values():
        TRAINING_PARTITIONS_SKIPPED_TOTAL.labels(selection.view, reason).inc()
    message = selection.message()
    log.warning("%s", message)
    warnings.warn(message, SkippedPartitionsWarning, stacklevel=3)


def _failed_partitions(location: OfflineLocation, view: str) -> list[str]:
    info = location.fs.get_file_info(pafs.FileSelector(location.path(f"{RECORDS_DIR}/{view}"), allow_not_found=True))
    prefix, found = f"{PARTITION_KEY}=", []
    for entry in info:
        name = entry.base_name
        if entry.type == pafs.FileType.File and name.startswith(prefix) and name.endswith(".json"):
            partition = name[len(prefix) : -len(".json")]
            if "." in partition:  # a report (ds=<p>.report.json), not a record
                continue
            record = read_record(location, view, partition)
            if record is not None and not record.passed:
                found.append(partition)
    return found


def pull_window(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``start_date`` and ``end_date`` of a Feast ``pull_*_from_table_or_query`` call, positional (after the data
    source: join keys, features, timestamp, created, start, end) or by keyword, as Feast passes them."""
    start = kwargs.get("start_date", args[4] if len(args) > 4 else None)
    end = kwargs.get("end_date", args[5] if len(args) > 5 else None)
    return start, end


def refuse_unvalidated(selection: FileSelection, start: datetime | None, end: datetime | None) -> None:
    """Feast's ``FeatureStore.materialize`` path: refuse when a batch partition starting in ``[start, end)`` (open
    bounds when ``None``) lacks a passing record, as the kit's materialization does; names them and what to run.
    ``selection`` is :func:`validated_files` (or :func:`validated_source_files`) of the view being read."""
    low = start or datetime.min.replace(tzinfo=UTC)
    high = end or datetime.max.replace(tzinfo=UTC)
    bad = {
        p: why for p, why in selection.skipped.items() if low <= datetime.fromisoformat(p).replace(tzinfo=UTC) < high
    }
    if bad:
        listed = ", ".join(f"{PARTITION_KEY}={p} ({why.replace('_', ' ')})" for p, why in sorted(bad.items()))
        raise UnvalidatedSourceError(
            f"materialize {selection.view} [{low.isoformat()}, {high.isoformat()}): refusing partitions without a "
            f"passing validation record: {listed}; validate them first (featurekit validate), or use `featurekit "
            "materialize --skip-validation` in an emergency"
        )
