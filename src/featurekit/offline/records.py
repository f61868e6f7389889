"""Materialization records: what was written to the online store, for which interval, and when.

Stock Feast records materialization intervals in the registry, which CI also writes (``feast apply``); two writers of
one registry object race and one loses. Airflow workers here only *read* the registry and record each finished
materialization as its own small JSON object under the offline store root::

    <offline root>/_materializations/<view>/ds=<partition>.json

One object per (view, partition): a rerun of an interval overwrites its own record (a single PUT on S3, an atomic
rename locally), and two different intervals never touch the same object, so nothing can race. Freshness monitoring
reads these records instead of the registry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.fs as pafs

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval, utc
from featurekit.offline.layout import PARTITION_KEY
from featurekit.offline.storage import offline_location

RECORDS_DIR = "_materializations"


@dataclass(frozen=True)
class MaterializationRecord:
    """One finished materialization of one view's interval."""

    view: str
    partition: str
    interval_start: datetime
    interval_end: datetime
    rows: int
    entities: int
    finished_at: datetime

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("interval_start", "interval_end", "finished_at"):
            data[key] = data[key].isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, where: str) -> MaterializationRecord:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                view=str(data["view"]),
                partition=str(data["partition"]),
                interval_start=utc(datetime.fromisoformat(data["interval_start"])),
                interval_end=utc(datetime.fromisoformat(data["interval_end"])),
                rows=int(data["rows"]),
                entities=int(data["entities"]),
                finished_at=utc(datetime.fromisoformat(data["finished_at"])),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a materialization record: {type(exc).__name__}: {exc}") from exc


def record_dir(view: str) -> str:
    return f"{RECORDS_DIR}/{view}"


def record_path(view: str, partition: str) -> str:
    """Relative path of the record of one (view, partition)."""
    return f"{record_dir(view)}/{PARTITION_KEY}={partition}.json"


def record_materialization(
    settings: Settings, result: Any, interval: DataInterval, *, finished_at: datetime | None = None
) -> MaterializationRecord:
    """Store the record of a finished :class:`~featurekit.pipelines.materialize.MaterializeResult`."""
    record = MaterializationRecord(
        view=result.view,
        partition=result.partition,
        interval_start=_plain_utc(interval.start),
        interval_end=_plain_utc(interval.end),
        rows=int(result.source_rows),
        entities=int(result.entities),
        finished_at=_plain_utc(finished_at or datetime.now(UTC)),
    )
    location = offline_location(settings.offline_store)
    location.write_text(record_path(record.view, record.partition), record.to_json())
    return record


def read_records(settings: Settings, view: str) -> list[MaterializationRecord]:
    """Every record of ``view``, oldest interval first (empty when nothing was materialized yet)."""
    location = offline_location(settings.offline_store)
    selector = pafs.FileSelector(location.path(record_dir(view)), allow_not_found=True)
    records = []
    for info in location.fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.base_name.endswith(".json"):
            continue
        with location.fs.open_input_stream(info.path) as stream:
            text = stream.read().decode()
        records.append(MaterializationRecord.from_json(text, where=info.path))
    return sorted(records, key=lambda r: (r.interval_start, r.finished_at))


def latest_record(settings: Settings, view: str) -> MaterializationRecord | None:
    """The record with the latest interval end of ``view`` (what the online store is fresh up to), or ``None``."""
    records = read_records(settings, view)
    return max(records, key=lambda r: (r.interval_end, r.finished_at)) if records else None


def _plain_utc(moment: datetime) -> datetime:
    """A stdlib UTC datetime (Airflow hands out pendulum datetimes, whose copies can lose their zone)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC)
