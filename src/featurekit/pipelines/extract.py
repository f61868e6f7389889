"""Extract: run a feature view's SQL for one data interval and write it as that interval's offline partition.

Reruns replace the partition (idempotent) and its profile (:mod:`featurekit.monitoring.profile`). The result is
cast to the view's declared schema, so schema drift in the warehouse fails here with the column named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval
from featurekit.monitoring.profile import profile_partition
from featurekit.offline.layout import CREATED_FIELD, partition_value
from featurekit.offline.schema import conform, offline_schema
from featurekit.offline.storage import offline_location
from featurekit.tags import grain_of, schedule_of
from featurekit.warehouse.engines import WarehouseQueryError, engine_for
from featurekit.warehouse.sql import load_feature_sql


class ExtractError(FeaturekitError, RuntimeError):
    """Extraction of one view and interval failed; the message names both and the cause."""


@dataclass(frozen=True)
class ExtractResult:
    view: str
    partition: str
    rows: int
    path: str


def extract_view(settings: Settings, view: Any, interval: DataInterval) -> ExtractResult:
    """Query the warehouse for ``view`` over ``interval`` and replace the matching offline partition."""
    where = f"extract {view.name} {interval}"
    sql = load_feature_sql(settings.feature_repo, view.name)
    try:
        table = engine_for(settings.warehouse).query_arrow(sql.athena(interval))
    except WarehouseQueryError as exc:
        raise ExtractError(f"{where}: the warehouse query failed: {exc}") from exc
    table = with_created(table, datetime.now(UTC))
    table = conform(table, offline_schema(view), where=where)
    partition = partition_value(interval.start, grain_of(view))
    path = offline_location(settings.offline_store).replace_partition(view.name, partition, table)
    if schedule_of(view) != "stream":  # stream views are profiled per hour of their offline copy by the monitor step
        try:
            profile_partition(settings, view, partition, table)  # the table is in memory: no second read
        except ValueError as exc:
            raise ExtractError(f"{where}: profiling failed: {exc}") from exc
    settings.offline_store.publish_partition(view.name, partition)  # Glue partition on AWS; no-op locally
    return ExtractResult(view=view.name, partition=partition, rows=table.num_rows, path=path)


def with_created(table: pa.Table, created: datetime) -> pa.Table:
    """Stamp rows with when they were produced: the tie-break between rows with the same event timestamp."""
    column = pa.array([created] * table.num_rows, type=pa.timestamp("us", tz="UTC"))
    if CREATED_FIELD in table.column_names:
        return table.set_column(table.column_names.index(CREATED_FIELD), CREATED_FIELD, column)
    return table.append_column(CREATED_FIELD, column)
