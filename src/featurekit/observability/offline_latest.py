"""Point-in-time reads of the offline store: each entity's latest row as of a moment, within the view's ttl.

The semantics are Feast's point-in-time join and the materializer's: the newest row with
``as_of - ttl <= event_timestamp <= as_of``, ties broken by ``created``. Only the partitions that can hold such rows
are read, through :func:`featurekit.offline.storage.offline_location`, i.e. the same parquet objects that the
Athena/Glue tables cover in AWS: one code path locally and in prod, and no Athena query cost for a monitoring job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from featurekit.config.settings import Settings
from featurekit.intervals import grain_length, utc
from featurekit.offline.layout import TIMESTAMP_FIELD, partition_dir
from featurekit.offline.storage import offline_location
from featurekit.pipelines.materialize import latest_per_entity
from featurekit.tags import grain_of

_FORMATS = {"daily": "%Y-%m-%d", "hourly": "%Y-%m-%dT%H"}


def join_keys(view: Any) -> list[str]:
    return [c.name for c in view.entity_columns]


def view_ttl(view: Any) -> timedelta | None:
    """The view's ttl, ``None`` when rows never expire (Feast treats a zero ttl as "no ttl")."""
    ttl = getattr(view, "ttl", None)
    return ttl if ttl and ttl > timedelta(0) else None


def partition_start(partition: str, grain: str) -> datetime:
    return utc(datetime.strptime(partition, _FORMATS[grain]))


@dataclass(frozen=True)
class OfflineWindow:
    """The rows of one view that can be the point-in-time latest as of ``as_of``: a lazy parquet dataset over the
    partitions that can hold them, and the time filter. Reads project columns and push filters down to the parquet
    row groups, so a check over a big view reads join keys for sampling and whole rows only for sampled entities."""

    view: str
    as_of: datetime
    partitions: list[str]
    dataset: ds.Dataset | None
    window: ds.Expression | None

    @property
    def empty(self) -> bool:
        return self.dataset is None

    def read(self, columns: list[str] | None = None, where: ds.Expression | None = None) -> pa.Table:
        if self.dataset is None:
            raise ValueError(f"offline window of {self.view} has no files")
        condition = self.window if where is None else self.window & where
        return self.dataset.to_table(columns=columns, filter=condition)

    def entities(self, keys: list[str]) -> pa.Table:
        """The distinct entities (join key columns) with a row in the window, in a deterministic order."""
        table = self.read(columns=keys) if not self.empty else pa.table({})
        if table.num_rows == 0:
            return table
        return table.group_by(keys).aggregate([]).sort_by([(k, "ascending") for k in keys])


def offline_window(
    settings: Settings, view: Any, as_of: datetime, *, through_partition: str | None = None
) -> OfflineWindow:
    """Rows of ``view`` with ``as_of - ttl <= event_timestamp <= as_of``.

    ``through_partition`` leaves out newer partitions (extracted but not materialized yet, for batch views)."""
    as_of = utc(as_of)
    grain = grain_of(view)
    step = grain_length(grain)
    ttl = view_ttl(view)
    location = offline_location(settings.offline_store)
    chosen = []
    for partition in location.partitions(view.name):
        start = partition_start(partition, grain)
        # A partition's rows are stamped inside [start, start + grain] (snapshots at the interval end); one extra
        # grain of slack on each side costs little and never misses a row.
        if start - step > as_of:
            continue
        if ttl is not None and start + 2 * step < as_of - ttl:
            continue
        if through_partition is not None and partition > through_partition:
            continue
        chosen.append(partition)
    files = [f for p in chosen for f in location.files(partition_dir(view.name, p))]
    if not files:
        return OfflineWindow(view.name, as_of, chosen, None, None)
    dataset = ds.dataset(files, filesystem=location.fs, format="parquet")
    ts_type = dataset.schema.field(TIMESTAMP_FIELD).type
    ts = ds.field(TIMESTAMP_FIELD)
    window = ts <= pa.scalar(as_of, type=ts_type)
    if ttl is not None:
        window = window & (ts >= pa.scalar(as_of - ttl, type=ts_type))
    return OfflineWindow(view.name, as_of, chosen, dataset, window)


def latest_rows(window: OfflineWindow, view: Any, entities: pa.Table) -> pa.Table | None:
    """The newest row in the window of each entity in ``entities`` (join key columns)."""
    if window.empty or entities.num_rows == 0:
        return None
    keys = join_keys(view)
    where = None
    for key in keys:  # pushed down per key; the exact tuple match is the join below
        condition = ds.field(key).isin(entities.column(key).unique())
        where = condition if where is None else where & condition
    rows = window.read(where=where)
    if len(keys) > 1:
        rows = rows.join(entities.select(keys), keys=keys, join_type="inner")
    return latest_per_entity(rows, keys)
