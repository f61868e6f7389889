"""Materialize: load one interval's offline partition into the online store.

Only the latest row per entity goes out (event timestamp, then ``created`` as tie-break), through the online
store's vectorized Arrow writer, which keeps the newer value when Redis already holds a fresher one. A backfill of an
old interval therefore never overwrites values the stream or a later run wrote. Nothing is written unless the
partition's batch passed validation (its record in :mod:`featurekit.offline.validation`); see docs/batch.md.

A large view's partition can be written by N independent shards (:class:`Shard`, planned by :func:`plan_shards`,
run as mapped Airflow tasks): shard ``i`` of ``N`` writes the entities whose online-store bucket falls in the ``i``-th
of N contiguous bucket ranges, so shards touch disjoint Redis keys. Each shard checks the quality gate itself, and
rerunning one is harmless (newer-wins keeps whatever is newest). Only the unsharded run records the materialization
at once; sharded runs are recorded by :func:`record_shards` once every shard has finished.
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
from featurekit.offline.records import MaterializationRecord, record_materialization
from featurekit.offline.storage import OfflineLocation, offline_location
from featurekit.offline.validation import ValidationRecord, current_batch_id, read_record
from featurekit.pipelines.shards import Shard, shard_count, shard_rows
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
    shard: Shard | None = None  # None: the whole partition in one go


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
    shard: Shard | None = None,
) -> MaterializeResult:
    """Write the latest row per entity of ``view``'s partition for ``interval`` into the online store.

    Refuses (:class:`UnvalidatedPartitionError`) a partition whose batch has no passing validation record for
    its current batch and suite, whoever calls it; ``skip_validation`` is the logged, counted emergency override.
    With ``shard``, only that shard's entities are written and nothing is recorded (:func:`record_shards` records
    the interval once every shard is done); without it the run records the interval itself.
    """
    from featurekit.online_store.store import TieredRedisOnlineStore

    partition = partition_value(interval.start, grain_of(view))
    location = offline_location(settings.offline_store)
    what = f"materialize {view.name} {interval}" + (f" {shard}" if shard else "")
    if skip_validation:
        MATERIALIZATION_VALIDATION_SKIPPED_TOTAL.labels(view.name).inc()
        log.warning("%s: validation check SKIPPED (--skip-validation)", what)
    else:
        require_validated(settings, location, view.name, partition, interval)
    table = location.read_partition(view.name, partition)
    if table is None:
        raise MaterializeError(f"{what}: offline partition ds={partition} does not exist; extract it first")
    store, config = TieredRedisOnlineStore(), repo_config(settings)
    if shard is not None:
        try:
            table = shard_rows(table, store.compiled(config, view).keyspace, shard, view.name)
        except ValueError as exc:
            raise MaterializeError(f"{what}: partition ds={partition}: {exc}") from exc
    latest = latest_per_entity(table, [c.name for c in view.entity_columns])
    store.write_arrow(config, view, latest, progress=progress)
    result = MaterializeResult(
        view=view.name, partition=partition, source_rows=table.num_rows, entities=latest.num_rows, shard=shard
    )
    if shard is None:
        # Recorded outside the registry (one object per view and partition), so it never races with CI's apply.
        record_materialization(settings, result, interval)
    return result


def plan_shards(settings: Settings, view: Any, interval: DataInterval) -> list[Shard]:
    """The shards that materialize ``view``'s partition for ``interval``: N from the view's ``shards`` tag, else
    from the row count of the partition's validated batch (see :mod:`.shards`).

    The quality gate is checked here too, so an unvalidated partition fails before any shard is scheduled (and
    every shard checks it again when it runs)."""
    from featurekit.online_store.store import TieredRedisOnlineStore

    partition = partition_value(interval.start, grain_of(view))
    record = require_validated(settings, offline_location(settings.offline_store), view.name, partition, interval)
    keyspace = TieredRedisOnlineStore().compiled(repo_config(settings), view).keyspace
    try:
        count = shard_count(view, record.rows if record is not None else 0, keyspace.bucket_count)
    except ValueError as exc:
        raise MaterializeError(f"materialize {view.name} {interval}: {exc}") from exc
    return [Shard(index, count) for index in range(count)]


def record_shards(
    settings: Settings, view_name: str, interval: DataInterval, results: list[MaterializeResult]
) -> MaterializationRecord:
    """Record the interval as materialized once every shard of one plan has finished: rows and entities are the
    shards' sums (each entity belongs to one shard, so they equal the unsharded run's). A missing, repeated or
    foreign shard is an error naming it, and nothing is recorded."""
    where = f"materialize {view_name} {interval}"
    if not results:
        raise MaterializeError(f"{where}: no shard results to record")
    counts = {r.shard.count if r.shard else None for r in results}
    partitions = {r.partition for r in results}
    if None in counts or len(counts) != 1 or len(partitions) != 1 or {r.view for r in results} != {view_name}:
        raise MaterializeError(
            f"{where}: shard results do not belong to one plan of this view: "
            + ", ".join(f"{r.view} ds={r.partition} {r.shard or 'unsharded'}" for r in results)
        )
    (count,) = counts
    assert count is not None  # None in counts was refused above
    seen = sorted(r.shard.index for r in results if r.shard)
    if seen != list(range(count)):
        missing = sorted(set(range(count)) - set(seen))
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        raise MaterializeError(f"{where}: of {count} shards, missing {missing}, repeated {repeated}; not recorded")
    total = MaterializeResult(
        view=view_name,
        partition=partitions.pop(),
        source_rows=sum(r.source_rows for r in results),
        entities=sum(r.entities for r in results),
    )
    return record_materialization(settings, total, interval)
