"""Data intervals: the half-open time range ``[start, end)`` one pipeline run is responsible for.

Every pipeline step (extract, validate, materialize) takes the same interval, as Airflow's data interval, so a
rerun or a backfill of an interval touches exactly that interval's partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

GRAINS: dict[str, timedelta] = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive input is taken as UTC, as Airflow and the warehouse store it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class DataInterval:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"empty data interval: end {self.end} is not after start {self.start}")

    @classmethod
    def ending_at(cls, end: datetime, grain: str) -> DataInterval:
        """The interval of one ``grain`` (``hourly``/``daily``) that ends at ``end``."""
        return cls(utc(end) - grain_length(grain), utc(end))

    def split(self, grain: str) -> list[DataInterval]:
        """Consecutive intervals of one ``grain`` covering this one (for backfills)."""
        step = grain_length(grain)
        out, cursor = [], self.start
        while cursor < self.end:
            out.append(DataInterval(cursor, min(cursor + step, self.end)))
            cursor += step
        return out

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def grain_length(grain: str) -> timedelta:
    try:
        return GRAINS[grain]
    except KeyError:
        raise ValueError(f"unknown schedule grain {grain!r}; expected one of {sorted(GRAINS)}") from None


def floor_to(moment: datetime, grain: str) -> datetime:
    """Round ``moment`` down to the start of its ``grain`` (hour or UTC day)."""
    moment = utc(moment)
    if grain == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    grain_length(grain)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
