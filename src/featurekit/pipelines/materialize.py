"""Materialize: load one interval's offline partition into the online store.

Only the latest row per entity goes out (event timestamp, then ``created`` as tie-break), through the online
store's vectorized Arrow writer, which keeps the newer value when Redis already holds a fresher one. A backfill of an
old interval therefore never overwrites values the stream or a later run wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval
from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD, partition_value
from featurekit.offline.storage import offline_location
from featurekit.pipelines.records import record_materialization
from featurekit.repo.feast_config import repo_config
from featurekit.repo.tags import grain_of


class MaterializeError(RuntimeError):
    """Materialization of one view and interval failed; the message names both and the cause."""


@dataclass(frozen=True)
class MaterializeResult:
    view: str
    partition: str
    source_rows: int
    entities: int


def latest_per_entity(table: pa.Table, join_keys: list[str]) -> pa.Table:
    """One row per entity: the newest by event timestamp, ties broken by ``created``."""
    keys = ", ".join(f'"{k}"' for k in join_keys)
    with duckdb.connect() as con:
        con.register("rows", table)
        return con.sql(
            f"SELECT * FROM rows QUALIFY row_number() OVER (PARTITION BY {keys} "
            f'ORDER BY "{TIMESTAMP_FIELD}" DESC, "{CREATED_FIELD}" DESC) = 1'
        ).to_arrow_table()


def materialize_view(
    settings: Settings,
    view: Any,
    interval: DataInterval,
    *,
    progress: Callable[[int], None] | None = None,
) -> MaterializeResult:
    """Write the latest row per entity of ``view``'s partition for ``interval`` into the online store."""
    from featurekit.online_store.store import TieredRedisOnlineStore

    partition = partition_value(interval.start, grain_of(view))
    table = offline_location(settings.offline_store).read_partition(view.name, partition)
    if table is None:
        raise MaterializeError(
            f"materialize {view.name} {interval}: offline partition ds={partition} does not exist; extract it first"
        )
    latest = latest_per_entity(table, [c.name for c in view.entity_columns])
    TieredRedisOnlineStore().write_arrow(repo_config(settings), view, latest, progress=progress)
    result = MaterializeResult(
        view=view.name, partition=partition, source_rows=table.num_rows, entities=latest.num_rows
    )
    # Recorded outside the registry (one object per view and partition), so it never races with CI's apply.
    record_materialization(settings, result, interval)
    return result
