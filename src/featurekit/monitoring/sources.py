"""Broken sources: an extract that returned no rows, far fewer rows than usual, or only old rows.

Checked right after the extract and before validation, from the batch files' footers and event-time column (no
full scan). The thresholds come from the view's tags: ``min_rows_vs_median`` (default 0.5 of the median of the last
``source_window`` = 7 partitions; only when that median is at least ``source_min_median_rows`` = 50, as smaller
batches swing by half on their own) and ``max_event_delay`` (default one interval: the newest event of a partition may
be at most that much older than the interval's end, i.e. by default the interval must hold at least one event).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval, grain_length
from featurekit.offline.layout import BATCH_PREFIX, TIMESTAMP_FIELD, partition_dir, partition_value
from featurekit.offline.storage import OfflineLocation, offline_location
from featurekit.repo.slo import parse_duration
from featurekit.tags import grain_of

DEFAULT_MIN_ROWS_VS_MEDIAN = 0.5
DEFAULT_WINDOW = 7
DEFAULT_MIN_MEDIAN = 50  # below this many rows per batch, a drop under half the median is noise, not an outage
EMPTY, PARTIAL, LATE = "empty", "partial", "late"


@dataclass(frozen=True)
class SourceHealth:
    view: str
    partition: str
    rows: int
    median_rows: float | None  # of the previous partitions' batches; None without history
    newest_event: datetime | None
    expected_newest: datetime
    problems: list[str]  # empty | partial | late, with a reason each
    reasons: list[str]

    @property
    def broken(self) -> bool:
        return bool(self.problems)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("newest_event", "expected_newest"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def check_source(settings: Settings, view: Any, interval: DataInterval) -> SourceHealth:
    """Health of the extract of ``view`` for ``interval`` (its ``batch-*`` files)."""
    grain = grain_of(view)
    partition = partition_value(interval.start, grain)
    location = offline_location(settings.offline_store)
    files = location.files(partition_dir(view.name, partition), BATCH_PREFIX)
    newest = None
    rows = 0
    if files:
        stamps = ds.dataset(files, filesystem=location.fs, format="parquet").to_table(columns=[TIMESTAMP_FIELD])
        rows = stamps.num_rows
        newest = pc.max(stamps.column(TIMESTAMP_FIELD)).as_py() if rows else None
    window = int(_float_tag(view, "source_window", DEFAULT_WINDOW))
    earlier = [p for p in location.partitions(view.name) if p < partition][-window:]
    history = [n for n in (_batch_rows(location, view.name, p) for p in earlier) if n is not None]
    median = statistics.median(history) if history else None
    delay = _duration_tag(view, "max_event_delay", grain_length(grain))
    expected = interval.end - delay
    ratio = _float_tag(view, "min_rows_vs_median", DEFAULT_MIN_ROWS_VS_MEDIAN)
    problems, reasons = [], []
    if rows == 0:
        problems.append(EMPTY)
        reasons.append(f"the extract returned no rows (recent median {_n(median)})")
    elif median and median >= _float_tag(view, "source_min_median_rows", DEFAULT_MIN_MEDIAN) and rows < ratio * median:
        problems.append(PARTIAL)
        reasons.append(f"{rows:,} rows, below {ratio:g} x the median {_n(median)} of the last {len(history)}")
    if rows and newest is not None and newest < expected:
        problems.append(LATE)
        reasons.append(f"newest event {newest.isoformat()} is older than expected ({expected.isoformat()})")
    return SourceHealth(view.name, partition, rows, median, newest, expected, problems, reasons)


def _batch_rows(location: OfflineLocation, view: str, partition: str) -> int | None:
    files = location.files(partition_dir(view, partition), BATCH_PREFIX)
    if not files:
        return None
    return sum(pq.ParquetFile(location.fs.open_input_file(f)).metadata.num_rows for f in files)


def _duration_tag(view: Any, name: str, default: timedelta) -> timedelta:
    raw = view.tags.get(name)
    return parse_duration(raw, where=f"feature view {view.name!r} tag {name}") if raw else default


def _float_tag(view: Any, name: str, default: float) -> float:
    raw = view.tags.get(name)
    try:
        return default if raw is None else float(raw)
    except ValueError:
        raise ValueError(f"feature view {view.name!r}: tag {name}={raw!r} is not a number") from None


def _n(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"
