"""Freshness SLOs: is each feature view's online data as recent as its ``freshness_slo`` tag promises?

For each view the check takes the entities with the newest rows in the offline store's newest partition, reads them
from the online store, and measures the age of the newest online event timestamp: what a model is served, not what
a pipeline claims. The view's latest materialization record (batch views) is reported next to it, so the report
says both "how old" and "why" (the last run's interval, and when it finished).

``check_freshness`` is the function the Airflow DAG calls after each materialization; ``featurekit freshness`` prints
the same report and exits non-zero when any view is out of SLO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from featurekit.config.settings import Settings
from featurekit.intervals import utc
from featurekit.observability.offline_latest import join_keys
from featurekit.observability.online_reads import read_online
from featurekit.observability.registry_views import deployed_views
from featurekit.offline.layout import TIMESTAMP_FIELD, partition_dir
from featurekit.offline.records import MaterializationRecord, latest_record
from featurekit.offline.storage import offline_location
from featurekit.repo.slo import InvalidSLOError, format_duration, freshness_slo
from featurekit.tags import schedule_of, tier_of

OK, STALE, NO_DATA, NO_SLO, INVALID_SLO = "ok", "stale", "no_data", "no_slo", "invalid_slo"
FAILING = frozenset({STALE, NO_DATA, INVALID_SLO})
DEFAULT_SAMPLE = 100


@dataclass(frozen=True)
class ViewFreshness:
    """Freshness of one feature view at ``checked_at``."""

    view: str
    schedule: str
    tier: str
    slo: timedelta | None
    status: str
    newest_online: datetime | None
    age: timedelta | None
    sampled: int
    found_online: int
    last_materialization: MaterializationRecord | None
    detail: str

    @property
    def out_of_slo(self) -> bool:
        return self.status in FAILING

    def to_dict(self) -> dict[str, Any]:
        record = self.last_materialization
        return {
            "view": self.view,
            "schedule": self.schedule,
            "tier": self.tier,
            "slo_seconds": self.slo.total_seconds() if self.slo else None,
            "status": self.status,
            "newest_online": self.newest_online.isoformat() if self.newest_online else None,
            "age_seconds": self.age.total_seconds() if self.age is not None else None,
            "sampled": self.sampled,
            "found_online": self.found_online,
            "last_materialization": None
            if record is None
            else {
                "partition": record.partition,
                "interval_end": record.interval_end.isoformat(),
                "finished_at": record.finished_at.isoformat(),
                "entities": record.entities,
            },
            "detail": self.detail,
        }


@dataclass(frozen=True)
class FreshnessReport:
    """Every checked view; ``ok`` is False when any is out of SLO."""

    env: str
    checked_at: datetime
    views: list[ViewFreshness] = field(default_factory=list)

    @property
    def out_of_slo(self) -> list[ViewFreshness]:
        return [v for v in self.views if v.out_of_slo]

    @property
    def ok(self) -> bool:
        return not self.out_of_slo

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "checked_at": self.checked_at.isoformat(),
            "ok": self.ok,
            "out_of_slo": [v.view for v in self.out_of_slo],
            "views": [v.to_dict() for v in self.views],
        }


def check_freshness(
    settings: Settings,
    views: Iterable[Any] | None = None,
    now: datetime | None = None,
    *,
    sample: int = DEFAULT_SAMPLE,
) -> FreshnessReport:
    """Check the views named in ``views`` (names or view objects; all online views when None) against their SLOs.

    Raises :class:`~featurekit.observability.errors.RegistryUnavailableError`,
    :class:`~featurekit.observability.errors.UnknownFeatureViewError` or
    :class:`~featurekit.observability.errors.OnlineStoreUnavailableError`; a view out of SLO is a result, not an
    error (``report.ok``). Updates the ``featurekit_freshness_*`` gauges.
    """
    from featurekit.metrics import (
        FRESHNESS_AGE_SECONDS,
        FRESHNESS_LAST_CHECK,
        FRESHNESS_OUT_OF_SLO,
        FRESHNESS_SLO_SECONDS,
    )

    now = utc(now) if now is not None else datetime.now(UTC)
    deployed = deployed_views(settings)
    results = [_check_view(settings, deployed.config, view, now, sample) for view in deployed.select(views)]
    for result in results:
        FRESHNESS_LAST_CHECK.labels(result.view).set(now.timestamp())
        FRESHNESS_OUT_OF_SLO.labels(result.view).set(1 if result.out_of_slo else 0)
        if result.slo is not None:
            FRESHNESS_SLO_SECONDS.labels(result.view).set(result.slo.total_seconds())
        if result.age is not None:
            FRESHNESS_AGE_SECONDS.labels(result.view).set(result.age.total_seconds())
    return FreshnessReport(env=settings.env, checked_at=now, views=results)


def _check_view(settings: Settings, config: Any, view: Any, now: datetime, sample: int) -> ViewFreshness:
    base = {"view": view.name, "schedule": schedule_of(view), "tier": tier_of(view)}
    record = latest_record(settings, view.name)
    try:
        slo = freshness_slo(view)
    except InvalidSLOError as exc:
        return ViewFreshness(**base, slo=None, status=INVALID_SLO, newest_online=None, age=None, sampled=0,
                             found_online=0, last_materialization=record, detail=str(exc))  # fmt: skip
    keys = _newest_offline_entities(settings, view, now, sample)
    rows = read_online(config, view, keys)
    found = [event for event, values in rows if values is not None and event is not None]
    newest = max((utc(e) for e in found), default=None)
    age = now - newest if newest is not None else None
    ran = _describe_record(record, now)
    if slo is None:
        status, detail = NO_SLO, f"no freshness_slo tag: not checked; {ran}"
    elif not keys:
        status, detail = NO_DATA, f"no offline rows up to now to sample; {ran}"
    elif newest is None:
        status, detail = NO_DATA, f"none of {len(keys)} sampled entities has an online row (missing or past ttl); {ran}"
    elif age is not None and age > slo:
        status, detail = STALE, f"newest online row is {format_duration(age)} old, SLO {format_duration(slo)}; {ran}"
    else:
        status, detail = OK, ran
    return ViewFreshness(**base, slo=slo, status=status, newest_online=newest, age=age, sampled=len(keys),
                         found_online=len(found), last_materialization=record, detail=detail)  # fmt: skip


def _newest_offline_entities(settings: Settings, view: Any, now: datetime, sample: int) -> list[dict[str, Any]]:
    """The ``sample`` entities with the newest rows (up to ``now``) in the view's newest non-empty offline partition.

    Sampling the newest rows makes the check a watermark: if what reached the offline store last is online, the
    view is as fresh as its pipeline; stream views with mostly quiet entities are judged by their active ones."""
    location = offline_location(settings.offline_store)
    keys = join_keys(view)
    for partition in reversed(location.partitions(view.name)):
        files = location.files(partition_dir(view.name, partition))
        if not files:
            continue
        dataset = ds.dataset(files, filesystem=location.fs, format="parquet")
        up_to_now = ds.field(TIMESTAMP_FIELD) <= pa.scalar(now, type=dataset.schema.field(TIMESTAMP_FIELD).type)
        rows = dataset.to_table(columns=[*keys, TIMESTAMP_FIELD], filter=up_to_now)  # keys only: no feature bytes
        if rows.num_rows == 0:
            continue
        newest = rows.group_by(keys).aggregate([(TIMESTAMP_FIELD, "max")])
        order = pc.sort_indices(
            newest, sort_keys=[(f"{TIMESTAMP_FIELD}_max", "descending"), *[(k, "ascending") for k in keys]]
        )
        return newest.take(order[:sample]).select(keys).to_pylist()
    return []


def _describe_record(record: MaterializationRecord | None, now: datetime) -> str:
    if record is None:
        return "no materialization record"
    return (
        f"last materialized ds={record.partition} (interval end {record.interval_end:%Y-%m-%d %H:%M} UTC, "
        f"finished {format_duration(now - utc(record.finished_at))} ago, {record.entities:,} entities)"
    )
