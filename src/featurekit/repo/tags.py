"""The tags the kit reads from feature views, and what they mean.

``tier`` picks the Redis deployment that serves a view, ``schedule`` the pipeline that fills it, ``freshness_slo``
how stale it may get. Keeping the vocabulary here lets the rules, the DAG factory and the online store agree.
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
