"""The tags the kit reads from feature views, and what they mean.

``tier`` picks the Redis deployment that serves a view, ``schedule`` the pipeline that fills it, ``freshness_slo``
how stale it may get. Keeping the vocabulary here lets the rules, the DAG factory and the online store agree.

It sits in the base layer (docs/architecture.md) because every layer reads it, from the offline store's partition
grain up to the DAG factory; it imports nothing from featurekit.
"""

from __future__ import annotations

from typing import Any

TIERS = ("hot", "warm")
SCHEDULES = ("hourly", "daily", "stream")
ON_DEMAND_SCHEDULE = "request"
# Stream views are also backfilled from the warehouse, one day at a time.
BACKFILL_GRAIN = {"hourly": "hourly", "daily": "daily", "stream": "daily"}


def schedule_of(view: Any) -> str:
    return view.tags.get("schedule", "")


def tier_of(view: Any) -> str:
    return view.tags.get("tier", "")


def grain_of(view: Any) -> str:
    """The partition/interval grain of a view's offline data."""
    try:
        return BACKFILL_GRAIN[schedule_of(view)]
    except KeyError:
        raise ValueError(
            f"feature view {view.name!r} has schedule {schedule_of(view)!r}; expected one of {list(SCHEDULES)}"
        ) from None


# Sharded materialization (featurekit.pipelines.shards, docs/batch.md): how many mapped tasks write the view.
SHARDS_TAG = "shards"


def shards_tag(view: Any) -> int | None:
    """The view's ``shards`` tag as a positive integer, ``None`` when unset; a clear error when malformed."""
    raw = (view.tags or {}).get(SHARDS_TAG)
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"feature view {view.name!r}: tag {SHARDS_TAG}={raw!r} must be a positive integer")
    return int(text)


# Data monitoring (featurekit.monitoring, docs/operations.md): numeric tags, and the slice and reference tags.
MONITORING_NUMBER_TAGS = (
    "drift_threshold",
    "slice_top_n",
    "slice_min_row_ratio",
    "slice_min_rows",
    "null_rate_increase",
    "min_rows_vs_median",
    "source_window",
    "source_min_median_rows",
)


def monitoring_tag_problems(view: Any) -> list[str]:
    """What is wrong with a view's monitoring tags, checked in CI before a bad tag can fail a DAG run."""
    tags = view.tags or {}
    problems = []
    for name in MONITORING_NUMBER_TAGS:
        if name in tags:
            try:
                float(tags[name])
            except ValueError:
                problems.append(f"tag {name}={tags[name]!r} must be a number")
    for field in view.features:
        raw = (field.tags or {}).get("drift_threshold")
        if raw is not None:
            try:
                float(raw)
            except ValueError:
                problems.append(f"feature {field.name!r} tag drift_threshold={raw!r} must be a number")
    columns = {f.name for f in view.features} | {c.name for c in getattr(view, "entity_columns", [])}
    for column in (c.strip() for c in tags.get("slices", "").split(",") if c.strip()):
        if column not in columns:
            problems.append(f"slice column {column!r} (tag slices) must be a field of the view, output by its SQL")
    reference = tags.get("drift_reference", "rolling:7")
    kind, _, arg = reference.partition(":")
    if not ((kind == "rolling" and arg.isdigit() and int(arg) > 0) or (kind == "pinned" and arg.strip())):
        problems.append(f"tag drift_reference={reference!r} must be 'rolling:N' or 'pinned:P1,P2,...'")
    return problems
