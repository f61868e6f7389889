"""The one place where featurekit's Prometheus metrics are defined (prefix ``featurekit_``).

Defining every metric here, once, avoids duplicate-registration errors when several components are imported in one
process and gives operators a single list of what is exported. Components import the objects they update.

This module is a leaf of the layer order (docs/architecture.md): it imports only ``prometheus_client``, so every
layer, from the online store up, may import it without pulling in the observability jobs that read the stores.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets sized for an online feature server: sub-millisecond to a few hundred ms.
_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

SERVING_REQUEST_SECONDS = Histogram(
    "featurekit_serving_request_seconds",
    "Time to answer one online feature request, by feature service (or '-' for a feature list) and endpoint.",
    ["feature_service", "endpoint"],
    buckets=_LATENCY_BUCKETS,
)
SERVING_ERRORS_TOTAL = Counter(
    "featurekit_serving_errors_total",
    "Feature server requests that failed, by endpoint and reason (bad_request, quality, unauthorized, redis, ...).",
    ["endpoint", "reason"],
)
SERVING_ENTITIES_TOTAL = Counter(
    "featurekit_serving_entities_total",
    "Entity rows requested from the online feature server.",
    ["feature_service"],
)
ONLINE_ROW_ERRORS_TOTAL = Counter(
    "featurekit_online_row_errors_total",
    "Stored rows that could not be decoded (corrupt, foreign or old-schema bytes), by feature view.",
    ["feature_view"],
)
ONLINE_WRITE_ROWS_TOTAL = Counter(
    "featurekit_online_write_rows_total",
    "Rows sent to the online store, by feature view and tier (applied or skipped as older).",
    ["feature_view", "tier"],
)
ONLINE_WRITE_APPLIED_TOTAL = Counter(
    "featurekit_online_write_applied_total",
    "Rows that replaced an older (or missing) value in the online store, by feature view and tier.",
    ["feature_view", "tier"],
)
SERVING_PLAN_REFRESH_TOTAL = Counter(
    "featurekit_serving_plan_refresh_total",
    "Times the fast read path recompiled its plan because the registry changed.",
)
SERVING_INFLIGHT = Gauge(
    "featurekit_serving_inflight_requests",
    "Online feature requests being processed by this worker.",
)
SERVING_REDIS_UP = Gauge(
    "featurekit_serving_redis_up",
    "1 when the feature server's last probe of a tier's Redis answered within the timeout, else 0.",
    ["tier"],
)

# ---- batch jobs, freshness and consistency (exported by batch jobs through featurekit.observability.exporter) ----

# Batch durations: from a second (a small hourly view) to an hour (a full daily view on a big day).
_JOB_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)

MATERIALIZATION_ROWS_TOTAL = Counter(
    "featurekit_materialization_rows_total",
    "Entity rows written to the online store by batch materialization, by feature view.",
    ["feature_view"],
)
MATERIALIZATION_DURATION_SECONDS = Histogram(
    "featurekit_materialization_duration_seconds",
    "Wall time of one materialization run (one view, one data interval), by feature view.",
    ["feature_view"],
    buckets=_JOB_BUCKETS,
)
MATERIALIZATION_LAG_SECONDS = Gauge(
    "featurekit_materialization_lag_seconds",
    "Seconds from the end of the last materialized data interval to the moment it was online, by feature view.",
    ["feature_view"],
)
MATERIALIZATION_FAILURES_TOTAL = Counter(
    "featurekit_materialization_failures_total",
    "Materialization runs that raised, by feature view.",
    ["feature_view"],
)
MATERIALIZATION_LAST_SUCCESS = Gauge(
    "featurekit_materialization_last_success_timestamp_seconds",
    "Unix time of the last successful materialization, by feature view.",
    ["feature_view"],
)
FRESHNESS_AGE_SECONDS = Gauge(
    "featurekit_freshness_age_seconds",
    "Age of the newest online row found for a sample of entities (now - event timestamp), by feature view.",
    ["feature_view"],
)
FRESHNESS_SLO_SECONDS = Gauge(
    "featurekit_freshness_slo_seconds",
    "The feature view's freshness SLO from its freshness_slo tag, in seconds.",
    ["feature_view"],
)
FRESHNESS_OUT_OF_SLO = Gauge(
    "featurekit_freshness_out_of_slo",
    "1 when the last freshness check found the view out of its SLO (stale or no online data), else 0.",
    ["feature_view"],
)
FRESHNESS_LAST_CHECK = Gauge(
    "featurekit_freshness_last_check_timestamp_seconds",
    "Unix time of the last freshness check of the view (alerts fire when checks stop).",
    ["feature_view"],
)
CONSISTENCY_MISMATCH_RATIO = Gauge(
    "featurekit_consistency_mismatch_ratio",
    "Share of sampled entities whose online row differs from the offline point-in-time latest row, by view.",
    ["feature_view"],
)
CONSISTENCY_COMPARED_ENTITIES = Gauge(
    "featurekit_consistency_compared_entities",
    "Entities compared by the last online/offline consistency check, by feature view.",
    ["feature_view"],
)

# Batch pipeline (issue 4): set by the DAGs' freshness task after each materialization.
BATCH_MATERIALIZED_UNTIL_SECONDS = Gauge(
    "featurekit_batch_materialized_until_seconds",
    "End (unix seconds) of the newest data interval materialized into the online store, by feature view.",
    ["feature_view"],
)
BATCH_FRESHNESS_LAG_SECONDS = Gauge(
    "featurekit_batch_freshness_lag_seconds",
    "Seconds between now and the end of the newest materialized interval, by feature view (compare to its SLO).",
    ["feature_view"],
)

# ---- online store maintenance (featurekit.pipelines.reconcile, the featurekit_maintenance DAG) ----------------
RECONCILE_KEYS_DELETED_TOTAL = Counter(
    "featurekit_reconcile_keys_deleted_total",
    "Online-store bucket keys deleted because their view or project is no longer in the registry.",
)
RECONCILE_KEYS_REMAINING = Gauge(
    "featurekit_reconcile_keys_remaining",
    "Orphan bucket keys left for the next maintenance run (over the per-run bound).",
)
RECONCILE_ORPHAN_VIEWS = Gauge(
    "featurekit_reconcile_orphan_views",
    "Distinct unregistered views (view ids) whose keys the last maintenance run found.",
)
RECONCILE_LAST_SUCCESS = Gauge(
    "featurekit_reconcile_last_success_timestamp_seconds",
    "Unix time of the last successful online-store reconciliation.",
)
VACUUM_ROWS_DELETED_TOTAL = Counter(
    "featurekit_vacuum_rows_deleted_total",
    "Rows past their view's ttl deleted by the online store's vacuum, by <project>/<feature view>.",
    ["feature_view"],
)

# ---- streaming (featurekit.streaming) -------------------------------------------------------------------------
STREAM_INPUT_ROWS_TOTAL = Counter(
    "featurekit_stream_input_rows_total",
    "Kafka records read by a streaming query (valid events and dead letters), by query.",
    ["query"],
)
STREAM_DEAD_LETTERS_TOTAL = Counter(
    "featurekit_stream_dead_letters_total",
    "Records sent to the dead-letter topic, by source topic and rule (unparseable, missing_field, wrong_type, "
    "impossible_timestamp).",
    ["topic", "reason"],
)
STREAM_LATE_EVENTS_TOTAL = Counter(
    "featurekit_stream_late_events_total",
    "Events older than the watermark, dropped from window aggregates by rule, by query.",
    ["query"],
)
STREAM_ROWS_WRITTEN_TOTAL = Counter(
    "featurekit_stream_rows_written_total",
    "Feature rows a streaming query wrote, by feature view and store (online, offline).",
    ["feature_view", "store"],
)
STREAM_BATCH_SECONDS = Histogram(
    "featurekit_stream_batch_seconds",
    "Duration of one micro-batch (trigger execution), by query.",
    ["query"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
STREAM_BATCHES_SKIPPED_TOTAL = Counter(
    "featurekit_stream_batches_skipped_total",
    "Micro-batches replayed after a restart whose sink output was already complete (skipped), by query.",
    ["query"],
)
STREAM_QUERY_RESTARTS_TOTAL = Counter(
    "featurekit_stream_query_restarts_total",
    "Streaming queries restarted from their checkpoint after a failure, by query.",
    ["query"],
)
STREAM_EVENT_LAG_SECONDS = Gauge(
    "featurekit_stream_event_lag_seconds",
    "Wall clock minus the newest event time written by a query's last micro-batch, by feature view.",
    ["feature_view"],
)

# ---- quality gate (recorded around featurekit.quality.validate by featurekit.observability.jobs) --------------
VALIDATION_RUNS_TOTAL = Counter(
    "featurekit_validation_runs_total",
    "Extracted batches put through their expectation suite, by feature view and result (passed, failed, error).",
    ["feature_view", "result"],
)
VALIDATION_FAILED_EXPECTATIONS_TOTAL = Counter(
    "featurekit_validation_failed_expectations_total",
    "Expectations that failed on quarantined batches, by feature view.",
    ["feature_view"],
)
MATERIALIZATION_VALIDATION_SKIPPED_TOTAL = Counter(
    "featurekit_materialization_validation_skipped_total",
    "Materializations run with --skip-validation (the emergency override of the quality gate), by feature view.",
    ["feature_view"],
)
TRAINING_PARTITIONS_SKIPPED_TOTAL = Counter(
    "featurekit_training_partitions_skipped_total",
    "Batch partitions left out of training reads, by feature view and reason (failed, not_validated).",
    ["feature_view", "reason"],
)
STREAM_EXPECTATION_FAILURES_TOTAL = Counter(
    "featurekit_stream_expectation_failures_total",
    "Streamed feature rows failing an expectation of their view (dead-lettered or dropped), by view and expectation.",
    ["feature_view", "expectation"],
)
STREAM_QUALITY_STOPS_TOTAL = Counter(
    "featurekit_stream_quality_stops_total",
    "Micro-batches whose expectation failure rate crossed quality.stream_max_failure_rate (the query stopped).",
    ["feature_view"],
)

# ---- data monitoring (featurekit.monitoring, set by the DAGs' monitor task) ---------------------------------------
# ``owner`` is the view's owner: Alertmanager routes these alerts to it. ``slice`` is "*" for all rows of a view.
FEATURE_DRIFT_SCORE = Gauge(
    "featurekit_feature_drift_score",
    "Drift of a feature's newest partition against its reference (PSI for numerics, Jensen-Shannon distance for "
    "categoricals), by feature view, feature, slice and owner.",
    ["feature_view", "feature", "slice", "owner"],
)
FEATURE_DRIFT_THRESHOLD = Gauge(
    "featurekit_feature_drift_threshold",
    "The drift threshold of the feature (drift_threshold tag or default), same labels as the drift score.",
    ["feature_view", "feature", "slice", "owner"],
)
SLICE_OUTAGE = Gauge(
    "featurekit_slice_outage",
    "1 when a slice of a view lost rows (kind=rows) or a feature went null in it (kind=nulls) against the reference.",
    ["feature_view", "slice", "feature", "kind", "owner"],
)
SOURCE_BROKEN = Gauge(
    "featurekit_source_broken",
    "1 when the view's last extract was empty, partial (far below the recent median) or late, with the upstream "
    "tables and the affected feature services.",
    ["feature_view", "reason", "owner", "upstream_tables", "feature_services"],
)
SOURCE_ROWS = Gauge(
    "featurekit_source_rows",
    "Rows of the view's last extracted batch.",
    ["feature_view"],
)
