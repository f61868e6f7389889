"""Backfill: run extract, validate (and materialize) for every interval of a range, view by view, oldest first.

Each interval is validated right after its extract, before anything is materialized: a day that fails its suite
stops the backfill at that day (quarantined, with its report), so no later interval builds on it and no unvalidated
row reaches Redis or training.

The demo and the tests use it to build an offline store with history; Airflow does the same one interval per run
(with catchup for backfills). Intervals follow each view's grain (``hourly``/``daily``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from featurekit.config.settings import Settings
from featurekit.intervals import DataInterval, floor_to
from featurekit.pipelines.extract import ExtractResult, extract_view
from featurekit.pipelines.materialize import MaterializeResult, materialize_view
from featurekit.quality.validate import QualityReport, validate_partition
from featurekit.tags import grain_of


@dataclass
class BackfillReport:
    extracted: list[ExtractResult] = field(default_factory=list)
    validated: list[QualityReport] = field(default_factory=list)
    materialized: list[MaterializeResult] = field(default_factory=list)


def intervals_for(view: Any, start: datetime, end: datetime) -> list[DataInterval]:
    """Whole intervals of the view's grain inside ``[start, end)``."""
    grain = grain_of(view)
    first, last = floor_to(start, grain), floor_to(end, grain)
    return DataInterval(first, last).split(grain) if last > first else []


def backfill(
    settings: Settings,
    views: Iterable[Any],
    start: datetime,
    end: datetime,
    *,
    materialize: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> BackfillReport:
    """Extract and validate every interval of every view in ``[start, end)``, then materialize it, oldest first.

    Raises :class:`~featurekit.quality.validate.DataQualityError` at the first interval that fails its suite;
    the intervals before it are done (and recorded), the ones after it are not started.
    """
    report = BackfillReport()
    for view in views:
        for interval in intervals_for(view, start, end):
            report.extracted.append(extract_view(settings, view, interval))
            report.validated.append(validate_partition(settings, view, interval))
            if materialize:
                report.materialized.append(materialize_view(settings, view, interval))
            if on_step:
                on_step(f"{view.name} {interval}")
    return report
