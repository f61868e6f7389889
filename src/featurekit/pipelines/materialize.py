"""Materialize: load one interval's offline partition into the online store.

Only the latest row per entity goes out (event timestamp, then ``created`` as tie-break), through the online
store's vectorized Arrow writer, which keeps the newer value when Redis already holds a fresher one. A backfill of an
old interval therefore never overwrites values the stream or a later run wrote. Nothing is written unless the
partition's batch passed validation (its record in :mod:`featurekit.offline.validation`); see docs/batch.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from featurekit import duckdb_utc
from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval
from featurekit.metrics import MATERIALIZATION_VALIDATION_SKIPPED_TOTAL
from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD, partition_value
from featurekit.offline.records import record_materialization
from featurekit.offline.storage import OfflineLocation, offline_location
from featurekit.offline.validation import ValidationRecord, current_batch_id, read_record
from featurekit.quality.suites import SuiteError, load_suite
from featurekit.repo.feast_config import repo_config
from featurekit.tags import grain_of

log = logging.getLogger(__name__)


class MaterializeError(FeaturekitError, RuntimeError):
    """Materialization of one view and interval failed; the message names both and the cause."""


class UnvalidatedPartitionError(MaterializeError):
    """The partition's batch has no passing validation record for its current batch and suite."""


@dataclass(frozen=True)
class MaterializeResult:
    view: str
    partition: str
    source_rows: int
    entities: int


def latest_per_entity(table: pa.Table, join_keys: list[str]) -> pa.Table:
    """One row per entity: the newest by event timestamp, ties broken by ``created``."""
    keys = ", ".join(f'"{k}"' for k in join_keys)
    with duckdb_utc.connect() as con:
        con.register("rows", table)
        return con.sql(
            f"SELECT * FROM rows QUALIFY row_number() OVER (PARTITION BY {keys} "
            f'ORDER BY "{TIMESTAMP_FIELD}" DESC, "{CREATED_FIELD}" DESC) = 1'
        ).to_arrow_table()


def require_validated(
    settings: Settings, location: OfflineLocation, view: str, partition: str, interval: DataInterval
) -> ValidationRecord | None:
    """The passing record of the partition's current batch and suite, or :class:`UnvalidatedPartitionError`.

    A partition without an extracted batch (only streamed rows, each gated per micro-batch) needs no record.
    """
    batch = current_batch_id(location, view, partition)
    record = read_record(location, view, partition)
    where = f"materialize {view} {interval}: partition ds={partition}"
    if batch is None:
        if record is not None and not record.passed:  # its batch was quarantined; the stream rows alone are partial
            raise UnvalidatedPartitionError(
                f"{where}: its batch {record.batch_id} FAILED validation and is quarantined (report: "
                f"{record.report}); fix the source, then extract and validate the interval again"
            )
        return None
    todo = (
        f"run `featurekit validate {view} --start {interval.start.isoformat()} --end {interval.end.isoformat()}` "
        "(the DAG's validate task) first, or in an emergency materialize with --skip-validation"
    )
    try:
        suite = load_suite(settings.feature_repo, view).fingerprint
    except SuiteError as exc:
        raise UnvalidatedPartitionError(f"{where}: cannot check its validation: {exc}") from exc
    if record is None:
        problem = f"batch {batch} was never validated"
    elif record.batch_id != batch:
        problem = f"holds batch {batch}, but the validation record is for batch {record.batch_id} (re-extracted?)"
    elif record.suite_fingerprint != suite:
        problem = f"was validated with suite {record.suite_fingerprint}; the suite is now {suite} (edited)"
    elif not record.passed:
        problem = f"batch {batch} FAILED validation ({len(record.failed)} expectation(s)); report: {record.report}"
    else:
        return record
    raise UnvalidatedPartitionError(f"{where} {problem}: refusing to write it to the online store; {todo}")


def materialize_view(
    settings: Settings,
    view: Any,
    interval: DataInterval,
    *,
    progress: Callable[[int], None] | None = None,
    skip_validation: bool = False,
) -> MaterializeResult:
    """Write the latest row per entity of ``view``'s partition for ``interval`` into the online store.

    Refuses (:class:`UnvalidatedPartitionError`) a partition whose batch has no passing validation record for
    its current batch and suite, whoever calls it; ``skip_validation`` is the logged, counted emergency override.
    """
    from featurekit.online_store.store import TieredRedisOnlineStore

    partition = partition_value(interval.start, grain_of(view))
    location = offline_location(settings.offline_store)
    if skip_validation:
        MATERIALIZATION_VALIDATION_SKIPPED_TOTAL.labels(view.name).inc()
        log.warning("materialize %s %s: validation check SKIPPED (--skip-validation)", view.name, interval)
    else:
        require_validated(settings, location, view.name, partition, interval)
    table = location.read_partition(view.name, partition)
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
