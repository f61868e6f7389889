"""Batch-job instrumentation: materialization metrics recorded around a run and exported when it ends.

The Airflow task (or ``featurekit materialize``) calls :func:`observed_materialize` instead of
:func:`~featurekit.pipelines.materialize.materialize_view`: same result, plus ``featurekit_materialization_*``
metrics pushed to the Pushgateway or written for the textfile collector (see :mod:`.exporter`), also when it fails,
which is when the numbers matter most.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval
from featurekit.metrics import (
    MATERIALIZATION_DURATION_SECONDS,
    MATERIALIZATION_FAILURES_TOTAL,
    MATERIALIZATION_LAG_SECONDS,
    MATERIALIZATION_LAST_SUCCESS,
    MATERIALIZATION_ROWS_TOTAL,
    VALIDATION_FAILED_EXPECTATIONS_TOTAL,
    VALIDATION_RUNS_TOTAL,
)
from featurekit.observability.errors import MetricsExportError
from featurekit.observability.exporter import ExportResult, export_metrics

log = logging.getLogger(__name__)
_FAILED = re.compile(r"(\d+) of \d+ expectations failed")


def observed_materialize(
    settings: Settings,
    view: Any,
    interval: DataInterval,
    *,
    progress: Callable[[int], None] | None = None,
    export: Callable[..., ExportResult | None] = export_metrics,
    skip_validation: bool = False,
    shard: Any = None,
) -> Any:
    """Materialize ``view`` for ``interval`` (one ``shard`` of it when given) and record rows, duration, lag
    (interval end -> online) and failures."""
    from featurekit.pipelines.materialize import materialize_view

    started = time.perf_counter()
    try:
        result = materialize_view(
            settings, view, interval, progress=progress, skip_validation=skip_validation, shard=shard
        )
    except BaseException:
        MATERIALIZATION_FAILURES_TOTAL.labels(view.name).inc()
        MATERIALIZATION_DURATION_SECONDS.labels(view.name).observe(time.perf_counter() - started)
        export_quietly(export, settings, view.name)
        raise
    finished = datetime.now(UTC)
    MATERIALIZATION_DURATION_SECONDS.labels(view.name).observe(time.perf_counter() - started)
    MATERIALIZATION_ROWS_TOTAL.labels(view.name).inc(result.entities)
    MATERIALIZATION_LAG_SECONDS.labels(view.name).set((finished - interval.end).total_seconds())
    MATERIALIZATION_LAST_SUCCESS.labels(view.name).set(finished.timestamp())
    export_quietly(export, settings, view.name)
    return result


def observed_validate(
    settings: Settings,
    view: Any,
    interval: DataInterval,
    *,
    export: Callable[..., ExportResult | None] = export_metrics,
) -> Any:
    """Run the quality gate on ``view``'s batch for ``interval`` and count the run, passed or failed (quarantined),
    with the number of failed expectations; raises what the gate raises."""
    from featurekit.quality.validate import DataQualityError, validate_partition

    try:
        report = validate_partition(settings, view, interval)
    except DataQualityError as exc:
        # The gate raises one error type for "the batch failed its suite" and "the batch could not be checked"
        # (no batch, bad suite); its message tells them apart ("<n> of <m> expectations failed").
        failed = _FAILED.search(str(exc))
        VALIDATION_RUNS_TOTAL.labels(view.name, "failed" if failed else "error").inc()
        if failed:
            VALIDATION_FAILED_EXPECTATIONS_TOTAL.labels(view.name).inc(int(failed.group(1)))
        export_quietly(export, settings, view.name, job="validate")
        raise
    VALIDATION_RUNS_TOTAL.labels(view.name, "passed").inc()
    export_quietly(export, settings, view.name, job="validate")
    return report


def export_quietly(
    export: Callable[..., ExportResult | None], settings: Settings, view: str, *, job: str = "materialize"
) -> None:
    """Metrics must never fail (or mask the failure of) the job they describe: a failed export is a warning."""
    try:
        export(
            job,
            {"feature_view": view},
            pushgateway_url=settings.metrics.pushgateway_url,
            textfile_dir=settings.metrics_textfile_dir(),
        )
    except MetricsExportError as exc:
        log.warning("%s", exc)
