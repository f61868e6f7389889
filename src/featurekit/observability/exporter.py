"""Export the metrics of a batch job (materialization, freshness, consistency) when the process is about to end.

A batch job does not live long enough to be scraped, so it hands its ``featurekit_*`` metrics over on the way out,
where the environment's ``metrics`` settings say (:func:`export_job_metrics`):

* ``metrics.pushgateway_url`` set (e.g. ``http://pushgateway.monitoring:9091``): pushed with
  ``prometheus_client.push_to_gateway`` (HTTP PUT, replaces the job's group), grouped by ``job`` and the labels the
  caller gives (e.g. ``feature_view``), so two views' runs never overwrite each other's numbers.
* otherwise: written atomically to ``<dir>/featurekit_<job>[_<group>].prom`` for node_exporter's textfile collector
  (``--collector.textfile.directory``), ``<dir>`` being ``metrics.textfile_dir`` or, when that is empty,
  ``<data_dir>/metrics`` (so a local run leaves readable files).
* :func:`export_metrics` given no URL and no directory at all: nothing is exported.

Only ``featurekit_*`` families are exported: process and GC metrics of a short-lived worker are noise in a gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.metrics_core import Metric

from featurekit.observability.errors import MetricsExportError

if TYPE_CHECKING:
    from featurekit.config.settings import Settings

PREFIX = "featurekit_"


class FeaturekitMetrics:
    """A collector view of a registry that yields only the kit's own metric families."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            if family.name.startswith(PREFIX):
                yield family


@dataclass(frozen=True)
class ExportResult:
    kind: str  # "pushgateway" | "textfile"
    target: str


def export_metrics(
    job: str,
    grouping_key: Mapping[str, str] | None = None,
    *,
    pushgateway_url: str | None = None,
    textfile_dir: str | Path | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> ExportResult | None:
    """Push this process's ``featurekit_*`` metrics to ``pushgateway_url`` or, without one, write them into
    ``textfile_dir``; neither given: nothing is exported."""
    url = pushgateway_url or None
    directory = textfile_dir or None
    collector = FeaturekitMetrics(registry)
    group = dict(grouping_key or {})
    if url:
        try:
            push_to_gateway(url, job=f"{PREFIX}{job}", registry=collector, grouping_key=group, timeout=10)  # type: ignore[arg-type]
        except OSError as exc:  # URLError and socket errors are OSErrors
            raise MetricsExportError(f"pushing job {job!r} metrics to the Pushgateway {url} failed: {exc}") from exc
        return ExportResult("pushgateway", url)
    if directory:
        suffix = "".join(f"_{_slug(v)}" for _, v in sorted(group.items()))
        path = Path(directory) / f"{PREFIX}{_slug(job)}{suffix}.prom"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(path), collector)  # type: ignore[arg-type]  # writes a temp file, then renames
        except OSError as exc:
            raise MetricsExportError(f"writing job {job!r} metrics to {path} failed: {exc}") from exc
        return ExportResult("textfile", str(path))
    return None


def export_job_metrics(
    settings: Settings,
    job: str,
    grouping_key: Mapping[str, str] | None = None,
    *,
    registry: CollectorRegistry = REGISTRY,
) -> ExportResult | None:
    """:func:`export_metrics` to where the environment's ``metrics`` settings say."""
    return export_metrics(
        job,
        grouping_key,
        pushgateway_url=settings.metrics.pushgateway_url,
        textfile_dir=settings.metrics_textfile_dir(),
        registry=registry,
    )


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value)
