"""Validation records: the outcome of the quality gate, kept as a property of the offline partition it judged.

Validating a partition writes one small JSON object per (view, partition) under the offline root, stored the way
materialization records are (:mod:`featurekit.offline.records`: one object per key, a rerun overwrites its own,
nothing races)::

    <offline root>/_validations/<view>/ds=<partition>.json

It names the **batch** it judged (the extract's ``batch-<id>.parquet`` files: a re-extract writes new ids, so an
old record no longer vouches for the new rows), the **suite fingerprint** (editing the expectations makes the record
stale for materialization), the outcome and where the full report is. Readers: materialization (refuses a partition
without a passing record for its current batch and suite) and training retrieval (skips batch files without a
passing record). This module is storage only; the gate itself is :mod:`featurekit.quality.validate`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from featurekit.intervals import utc
from featurekit.offline.layout import BATCH_PREFIX, PARTITION_KEY, partition_dir
from featurekit.offline.storage import OfflineLocation

RECORDS_DIR = "_validations"
Outcome = Literal["passed", "failed"]


@dataclass(frozen=True)
class ValidationRecord:
    """One run of the quality gate on one partition's batch."""

    view: str
    partition: str
    batch_id: str
    suite_fingerprint: str
    outcome: Outcome
    rows: int
    evaluated: int
    report: str | None
    validated_at: datetime
    failed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_json(self) -> str:
        data = asdict(self)
        data["validated_at"] = self.validated_at.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, where: str) -> ValidationRecord:
        try:
            data: dict[str, Any] = json.loads(text)
            if data["outcome"] not in ("passed", "failed"):
                raise ValueError(f"outcome {data['outcome']!r} is not passed/failed")
            return cls(
                view=str(data["view"]),
                partition=str(data["partition"]),
                batch_id=str(data["batch_id"]),
                suite_fingerprint=str(data["suite_fingerprint"]),
                outcome=data["outcome"],
                rows=int(data["rows"]),
                evaluated=int(data["evaluated"]),
                report=data.get("report"),
                validated_at=utc(datetime.fromisoformat(data["validated_at"])),
                failed=[str(f) for f in data.get("failed") or []],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a validation record: {type(exc).__name__}: {exc}") from exc


def record_path(view: str, partition: str) -> str:
    """Relative path of the validation record of one (view, partition)."""
    return f"{RECORDS_DIR}/{view}/{PARTITION_KEY}={partition}.json"


def report_path(view: str, partition: str) -> str:
    """Relative path of the full report of a passing run (a failing run's report sits in quarantine)."""
    return f"{RECORDS_DIR}/{view}/{PARTITION_KEY}={partition}.report.json"


def batch_id_of(files: list[str]) -> str | None:
    """The id of the batch made of ``files`` (the extract's ``batch-<id>.parquet``), ``None`` for no batch."""
    names = sorted(f.rsplit("/", 1)[-1].removeprefix(BATCH_PREFIX).removesuffix(".parquet") for f in files)
    return "+".join(names) if names else None


def current_batch_id(location: OfflineLocation, view: str, partition: str) -> str | None:
    """The id of the batch the partition holds now (``None`` when it has no extracted batch)."""
    return batch_id_of(location.files(partition_dir(view, partition), BATCH_PREFIX))


def write_record(location: OfflineLocation, record: ValidationRecord) -> str:
    return location.write_text(record_path(record.view, record.partition), record.to_json())


def read_record(location: OfflineLocation, view: str, partition: str) -> ValidationRecord | None:
    """The validation record of one partition, or ``None`` if it was never validated."""
    relative = record_path(view, partition)
    text = location.read_text(relative)
    return None if text is None else ValidationRecord.from_json(text, where=location.uri_of(relative))
