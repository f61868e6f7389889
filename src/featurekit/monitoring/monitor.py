"""The monitor step of a view's pipeline run, between extract and validate: source health, drift, slice outages.

A broken source (empty, partial, late) raises :class:`SourceBrokenError` naming the upstream tables, the affected
feature services and their owners, so the batch goes no further and the alert routes to the views' owner. Drift and
slice outages do not stop the run (the world changing is not a pipeline failure); they are reported, set as gauges
and alerted on. Stream views are profiled per hour of their offline copy here, batch views were profiled by the
extract (same pass as the write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError
from featurekit.intervals import DataInterval
from featurekit.monitoring.drift import DriftReport, evaluate, reference_names
from featurekit.monitoring.impact import BlastRadius, Lineage, blast_radius
from featurekit.monitoring.profile import PartitionProfile, profile_names, profile_stream_hours, read_profiles
from featurekit.monitoring.sources import SourceHealth, check_source
from featurekit.offline.layout import partition_value
from featurekit.tags import grain_of, schedule_of


class SourceBrokenError(FeaturekitError, RuntimeError):
    """The extract of a view looks broken (empty, partial or late); the message names tables, services, owners."""


@dataclass
class MonitorReport:
    view: str
    partition: str
    owner: str
    source: SourceHealth
    drift: list[DriftReport] = field(default_factory=list)
    impact: BlastRadius | None = None

    @property
    def summary(self) -> str:
        drifted = [f"{s.feature}[{s.slice}] {s.metric}={s.score:.3f}>{s.threshold:g}" for r in self.drift
                   for s in r.drifted]  # fmt: skip
        outages = [o.describe() for r in self.drift for o in r.outages]
        return (
            f"monitor {self.view} ds={self.partition}: {self.source.rows:,} rows"
            + (f"; SOURCE BROKEN: {'; '.join(self.source.reasons)}" if self.source.broken else "")
            + (f"; drifted: {', '.join(drifted)}" if drifted else "")
            + (f"; slice outages: {'; '.join(outages)}" if outages else "")
        )


def monitor_view(
    settings: Settings, view: Any, interval: DataInterval, lineage: Lineage | Callable[[], Lineage]
) -> MonitorReport:
    """Check the extract of ``view`` for ``interval``; raises :class:`SourceBrokenError` after recording metrics.

    ``lineage`` may be a function: it is only needed (SQL of every view parsed) when the source is broken."""
    partition = partition_value(interval.start, grain_of(view))
    source = check_source(settings, view, interval)
    report = MonitorReport(view.name, partition, view.owner or "", source)
    names = profile_names(settings, view.name)
    if schedule_of(view) == "stream":
        currents = profile_stream_hours(settings, view, partition)
        names = profile_names(settings, view.name)
    else:  # profiled by the extract
        currents = read_profiles(settings, view.name, [partition]) if partition in names else []
    wanted = {n for c in currents for n in reference_names(view, c.partition, names)}
    history = read_profiles(settings, view.name, sorted(wanted))  # only what is compared with
    report.drift = [evaluate(view, current, history) for current in currents]
    if source.broken:
        report.impact = blast_radius(lineage if isinstance(lineage, Lineage) else lineage(), view.name)
    record_metrics(report)
    if source.broken:
        raise SourceBrokenError(broken_message(report))
    return report


def broken_message(report: MonitorReport) -> str:
    impact = report.impact
    assert impact is not None
    return (
        f"monitor {report.view} ds={report.partition}: source broken ({', '.join(report.source.problems)}): "
        f"{'; '.join(report.source.reasons)}. {impact.describe()}"
    )


def record_metrics(report: MonitorReport) -> None:
    from featurekit.metrics import (
        FEATURE_DRIFT_SCORE,
        FEATURE_DRIFT_THRESHOLD,
        SLICE_OUTAGE,
        SOURCE_BROKEN,
        SOURCE_ROWS,
    )

    owner = report.owner
    SOURCE_ROWS.labels(report.view).set(report.source.rows)
    if report.impact is not None:
        tables, services = ",".join(report.impact.tables), ",".join(report.impact.services)
        for problem in report.source.problems:
            SOURCE_BROKEN.labels(report.view, problem, owner, tables, services).set(1)
    for drift in report.drift[-1:]:  # the newest profile (the last hour for a stream view)
        for s in drift.scores:
            FEATURE_DRIFT_SCORE.labels(report.view, s.feature, s.slice, owner).set(s.score)
            FEATURE_DRIFT_THRESHOLD.labels(report.view, s.feature, s.slice, owner).set(s.threshold)
    for drift in report.drift:
        for o in drift.outages:
            SLICE_OUTAGE.labels(report.view, o.slice, o.feature or "-", o.kind, owner).set(1)


def latest_reports(settings: Settings, view: Any, last: int | None = None) -> list[DriftReport]:
    """Drift of every stored profile of ``view`` against its own reference (the ``featurekit drift`` history)."""
    names = profile_names(settings, view.name)
    chosen = names[-last:] if last else names
    wanted = set(chosen) | {n for c in chosen for n in reference_names(view, c, names)}
    history: list[PartitionProfile] = read_profiles(settings, view.name, sorted(wanted))
    by_name = {p.partition: p for p in history}
    return [evaluate(view, by_name[name], history) for name in chosen]
