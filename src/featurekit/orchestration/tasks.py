"""Task bodies of the generated DAGs: each is a thin call into :mod:`featurekit.pipelines` / :mod:`featurekit.quality`.

Airflow-specific decisions live here and nowhere else:

* The view comes from the **registry** (written by CI alone), never from importing the feature repo: workers run
  what was applied, and they only ever read the registry.
* Failures that a retry cannot fix (the kit's errors marked ``permanent``, :mod:`featurekit.errors`: SQL error,
  missing table, schema drift, a batch failing its suite, a missing partition) become ``AirflowFailException``: the
  task fails at once with the kit's message, which names the view, the interval and the cause. Anything else
  (transient kit errors such as Redis or S3 unreachable, Athena throttling, any other exception) is re-raised
  unchanged so Airflow retries it with exponential backoff.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval

CONSISTENCY_SAMPLE = 200


class ConsistencyError(FeaturekitError, RuntimeError):
    """Online values differ from the offline store's point-in-time latest values."""


log = logging.getLogger(__name__)
_STORES: dict[tuple[str, str], Any] = {}


class UnknownViewError(FeaturekitError, LookupError):
    """The DAG names a view the registry does not have (the repo change was merged but not applied yet)."""


def _settings(env: str | None) -> Any:
    from featurekit.config import load_settings

    return load_settings(env)


def registry_view(settings: Any, name: str) -> Any:
    """The applied definition of ``name`` (batch or stream view) from the registry."""
    from feast.errors import FeatureViewNotFoundException

    from featurekit.repo.feast_config import feature_store

    key = (settings.env, settings.registry.path)
    if key not in _STORES:
        _STORES[key] = feature_store(settings)
    store = _STORES[key]
    store.refresh_registry()
    for getter in (store.get_feature_view, store.get_stream_feature_view):
        try:
            return getter(name)
        except FeatureViewNotFoundException:
            continue
    raise UnknownViewError(
        f"feature view {name!r} is not in the registry {settings.registry.path}: apply the feature repo (CI) first"
    )


def _fail_permanently(step: str, view: str, interval: DataInterval):
    """A context manager turning the kit's deterministic errors into a non-retried task failure."""
    from contextlib import contextmanager

    from airflow.sdk.exceptions import AirflowFailException

    @contextmanager
    def guard():
        try:
            yield
        except FeaturekitError as exc:
            if not exc.permanent:
                raise  # Airflow retries it
            message = str(exc)
            if view not in message:
                message = f"{step} {view} {interval}: {message}"
            log.error("%s", message)
            raise AirflowFailException(message) from exc

    return guard()


def extract(view_name: str, interval: DataInterval, env: str | None = None) -> dict[str, Any]:
    """Run the view's SQL for the interval and replace its offline partition."""
    from featurekit.pipelines.extract import extract_view

    with _fail_permanently("extract", view_name, interval):
        settings = _settings(env)
        result = extract_view(settings, registry_view(settings, view_name), interval)
    log.info("extract %s %s: %d rows -> %s", view_name, interval, result.rows, result.path)
    return {"view": result.view, "partition": result.partition, "rows": result.rows, "path": result.path}


def monitor(view_name: str, interval: DataInterval, env: str | None = None) -> dict[str, Any]:
    """Before validation: is the source broken (empty, partial, late: fails naming tables, services and owners),
    and did a feature or a slice drift or go null (reported and alerted on, the run goes on)?"""
    from featurekit.monitoring.impact import Lineage
    from featurekit.monitoring.monitor import monitor_view
    from featurekit.observability.exporter import export_metrics
    from featurekit.observability.jobs import export_quietly

    settings = _settings(env)
    try:
        with _fail_permanently("monitor", view_name, interval):
            view = registry_view(settings, view_name)
            store = _STORES[(settings.env, settings.registry.path)]
            report = monitor_view(settings, view, interval, lambda: Lineage.from_registry(settings, store))
    finally:
        export_quietly(export_metrics, settings, view_name, job="monitor")
    (log.warning if any(r.drifted or r.outages for r in report.drift) else log.info)("%s", report.summary)
    return {"view": report.view, "partition": report.partition, "rows": report.source.rows,
            "drifted": [s.feature + "[" + s.slice + "]" for r in report.drift for s in r.drifted]}  # fmt: skip


def validate(view_name: str, interval: DataInterval, env: str | None = None) -> dict[str, Any]:
    """Check the extracted batch against the view's suite; a failing batch is quarantined and the task fails."""
    from featurekit.observability.jobs import observed_validate

    with _fail_permanently("validate", view_name, interval):
        settings = _settings(env)
        report = observed_validate(settings, registry_view(settings, view_name), interval)  # + quality-gate metrics
    log.info("%s", report.summary)
    return {"view": report.view, "partition": report.partition, "rows": report.rows, "checks": report.evaluated}


def plan_shards(view_name: str, interval: DataInterval, env: str | None = None) -> list[dict[str, int]]:
    """The shards the materialize step runs as (one mapped task each); refused unless the partition is validated."""
    from featurekit.pipelines.materialize import plan_shards

    with _fail_permanently("materialize", view_name, interval):
        settings = _settings(env)
        shards = plan_shards(settings, registry_view(settings, view_name), interval)
    log.info("materialize %s %s: %d shard(s)", view_name, interval, len(shards))
    return [shard.to_dict() for shard in shards]


def materialize(
    view_name: str, interval: DataInterval, env: str | None = None, shard: dict[str, int] | None = None
) -> dict[str, Any]:
    """Write the interval's partition (one ``shard`` of its entities, when given) to the online store
    (newer-wins); the unsharded form also records it, a sharded run is recorded by :func:`record_shards`."""
    from featurekit.observability.jobs import observed_materialize
    from featurekit.pipelines.materialize import MaterializeError, UnvalidatedPartitionError
    from featurekit.pipelines.shards import Shard

    with _fail_permanently("materialize", view_name, interval):
        settings = _settings(env)
        view = registry_view(settings, view_name)
        try:
            part = Shard.from_dict(shard) if shard is not None else None
        except ValueError as exc:
            raise MaterializeError(f"materialize {view_name} {interval}: {exc}") from exc
    # Outside the guard: Redis being down is transient, and Airflow retries it. observed_materialize is
    # materialize_view plus its metrics (exported also on failure).
    try:
        result = observed_materialize(settings, view, interval, shard=part)
    except UnvalidatedPartitionError:  # refused by the quality gate: a retry cannot fix it
        with _fail_permanently("materialize", view_name, interval):
            raise
    log.info(
        "materialize %s %s%s: %d rows, %d entities",
        view_name, interval, f" {part}" if part else "", result.source_rows, result.entities,
    )  # fmt: skip
    out: dict[str, Any] = {"view": result.view, "partition": result.partition, "entities": result.entities}
    if part is not None:
        out.update(rows=result.source_rows, shard=part.to_dict())
    return out


def record_shards(
    view_name: str, interval: DataInterval, env: str | None, shards: list[dict[str, Any]]
) -> dict[str, Any]:
    """After every shard of the plan succeeded: record the interval as materialized (what freshness reads)."""
    from featurekit.pipelines.materialize import MaterializeError, MaterializeResult, record_shards
    from featurekit.pipelines.shards import Shard

    with _fail_permanently("materialize", view_name, interval):
        try:
            results = [
                MaterializeResult(
                    view=s["view"], partition=s["partition"], source_rows=s["rows"], entities=s["entities"],
                    shard=Shard.from_dict(s["shard"]),
                )
                for s in shards
            ]  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            message = f"materialize {view_name} {interval}: not shard results ({exc!r}): {shards}"
            raise MaterializeError(message) from exc
        record = record_shards(_settings(env), view_name, interval, results)
    log.info("materialize %s %s: %d shard(s) recorded, %d entities", view_name, interval, len(results), record.entities)
    return {"view": view_name, "partition": record.partition, "entities": record.entities, "shards": len(results)}


def freshness(view_name: str, interval: DataInterval, env: str | None = None) -> dict[str, Any]:
    """Check the view against its freshness SLO after materializing: the age of the newest rows online (read from
    Redis for a sample of entities) and the newest materialization record, as ``featurekit freshness`` does.

    A backfill run of an old interval is naturally behind, so this reports (log, gauges, exported metrics) rather
    than fails; the ``FeatureFreshnessOutOfSLO`` alert acts on the gauges.
    """
    from featurekit.metrics import BATCH_FRESHNESS_LAG_SECONDS, BATCH_MATERIALIZED_UNTIL_SECONDS
    from featurekit.observability.exporter import export_metrics
    from featurekit.observability.freshness import check_freshness
    from featurekit.observability.jobs import export_quietly
    from featurekit.offline.records import latest_record

    settings = _settings(env)
    record = latest_record(settings, view_name)
    if record is None:
        raise RuntimeError(f"freshness {view_name} {interval}: no materialization record found after materialize")
    # The pipeline's own measure (newest materialized interval), for BatchMaterializationBehindSLO ...
    BATCH_MATERIALIZED_UNTIL_SECONDS.labels(feature_view=view_name).set(record.interval_end.timestamp())
    BATCH_FRESHNESS_LAG_SECONDS.labels(feature_view=view_name).set(
        (datetime.now(UTC) - record.interval_end).total_seconds()
    )
    # ... and what is actually served: the age of the newest rows online (featurekit_freshness_* gauges).
    report = check_freshness(settings, views=[view_name])
    (result,) = report.views
    (log.info if not result.out_of_slo else log.warning)("freshness %s %s: %s", view_name, interval, result.to_dict())
    export_quietly(export_metrics, settings, view_name, job="freshness")
    return result.to_dict()


def consistency(view_name: str, interval: DataInterval, env: str | None = None) -> dict[str, Any]:
    """Compare a sample of online values with the offline store's point-in-time latest values; any mismatch fails
    the task (training/serving skew is a defect, not a lag), with examples in the error."""
    from featurekit.observability.consistency import check_consistency
    from featurekit.observability.exporter import export_metrics
    from featurekit.observability.jobs import export_quietly

    settings = _settings(env)
    report = check_consistency(settings, views=[view_name], sample=CONSISTENCY_SAMPLE)
    export_quietly(export_metrics, settings, view_name, job="consistency")
    (result,) = report.views
    with _fail_permanently("consistency", view_name, interval):
        if report.failing():
            raise ConsistencyError(f"consistency {view_name} {interval}: {result.to_dict()}")
    log.info("consistency %s %s: %d compared, no mismatch", view_name, interval, result.compared)
    return result.to_dict()


def reconcile(env: str | None) -> dict[str, Any]:
    """The maintenance DAG's task body: reconcile the online store with the registry (see
    :mod:`featurekit.orchestration.maintenance`)."""
    from featurekit.config import load_settings
    from featurekit.observability.exporter import export_metrics
    from featurekit.observability.jobs import export_quietly
    from featurekit.pipelines.reconcile import reconcile_online_store

    settings = load_settings(env)
    result = reconcile_online_store(settings, max_keys=settings.orchestration.maintenance_max_keys)
    export_quietly(export_metrics, settings, "-", job="maintenance")
    return result.to_dict()
