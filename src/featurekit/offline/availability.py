"""Availability-time training data: each feature value joins at the moment it became servable online.

Feast joins on event time: a daily snapshot for the interval ending at midnight is used in training from midnight,
but serving only has it after the materialization that ran at, say, 02:00. A model trained on event-time joins sees
fresher values than it gets in production. In availability mode a feature row counts for an entity row at ``t`` when
it was *available* at ``t``:

* batch rows: the ``finished_at`` of the kit's materialization record of their partition
  (:mod:`featurekit.pipelines.records`); without a record, event time plus the view's interval (one day, one hour);
* rows the stream sink wrote (``stream-*`` files): their ``created`` time, the stream's processing time.

Among available rows the one served is what the online store keeps: the newest by (event time, created), since its
writes are newer-wins; and it expires after the view's ttl counted from the event time, as online. Event time stays
the default; the mode is chosen per call (``mode=``) or per feature service (tag ``training_time: availability``).

The mode travels to the kit's offline store (:mod:`featurekit.offline.retrieval`) in a context variable set around
Feast's own ``get_historical_features``, so nothing in Feast is patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pandas as pd

from featurekit.config.settings import Settings
from featurekit.intervals import grain_length
from featurekit.offline.layout import STREAM_PREFIX
from featurekit.offline.retrieval import _CREATED_OFFSET, _ROW, _SHIFT, _TS, AsofRetrievalJob, _quote
from featurekit.repo.tags import grain_of

EVENT, AVAILABILITY = "event", "availability"
MODES = (EVENT, AVAILABILITY)
SERVICE_TAG = "training_time"


class AvailabilityModeError(ValueError):
    """Availability mode was asked for where it cannot be honoured (unknown mode, unsupported store or entity_df)."""


@dataclass(frozen=True)
class _Availability:
    settings: Settings


_CURRENT: ContextVar[_Availability | None] = ContextVar("featurekit_availability", default=None)


@contextmanager
def availability_time(settings: Settings) -> Iterator[None]:
    """Inside this block, the kit's offline store joins on availability time."""
    token = _CURRENT.set(_Availability(settings))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> _Availability | None:
    return _CURRENT.get()


def resolve_mode(features: Any, mode: str | None) -> str:
    """``mode`` if given, else the feature service's ``training_time`` tag, else event time."""
    chosen = mode or (features.tags.get(SERVICE_TAG) if hasattr(features, "tags") else None) or EVENT
    if chosen not in MODES:
        where = f"feature service {features.name!r} tag {SERVICE_TAG}" if mode is None else "mode"
        raise AvailabilityModeError(f"{where}: {chosen!r} is not a training time mode; expected one of {MODES}")
    return chosen


def get_historical_features(
    store: Any,
    settings: Settings,
    entity_df: pd.DataFrame,
    features: Any,
    *,
    mode: str | None = None,
    full_feature_names: bool = False,
) -> Any:
    """Feast's ``get_historical_features`` with the training-time mode of the call or of the feature service."""
    from featurekit.config.settings import ParquetOfflineStore

    if resolve_mode(features, mode) == EVENT:
        return store.get_historical_features(entity_df=entity_df, features=features,
                                             full_feature_names=full_feature_names)  # fmt: skip
    if not isinstance(settings.offline_store, ParquetOfflineStore):
        raise AvailabilityModeError(
            f"availability-time retrieval runs on the kit's parquet offline store; env {settings.env!r} uses "
            f"{type(settings.offline_store).__name__}"
        )
    with availability_time(settings):
        return store.get_historical_features(entity_df=entity_df, features=features,
                                             full_feature_names=full_feature_names)  # fmt: skip


def with_availability(job: AsofRetrievalJob) -> AsofRetrievalJob:
    """The kit store's retrieval job, switched to availability time when the caller asked for it."""
    context = current()
    if context is None:
        return job
    available = AvailabilityRetrievalJob.__new__(AvailabilityRetrievalJob)
    available.__dict__.update(job.__dict__)
    available._settings = context.settings
    return available


def unsupported(reason: str) -> None:
    """Fail loudly instead of silently falling back to event time."""
    if current() is not None:
        raise AvailabilityModeError(f"availability-time retrieval needs {reason}")


class AvailabilityRetrievalJob(AsofRetrievalJob):
    """The ASOF job with each feature row keyed by its availability time instead of its event time."""

    _settings: Settings

    def _view_query(self, view: Any, features: list[str], span: tuple[Any, Any] | None = None) -> str:
        from featurekit.pipelines.records import read_records

        source = view.batch_source
        column = {v: k for k, v in (source.field_mapping or {}).items()}  # Feast name -> source column
        keys = [c.name for c in view.entity_columns]
        entity_keys = [view.projection.join_key_map.get(k, k) for k in keys]
        event = _quote(column.get(source.timestamp_field, source.timestamp_field))
        created_name = source.created_timestamp_column
        created = _quote(column.get(created_name, created_name)) if created_name else event
        created_us = f"coalesce(epoch_us({created}), 0) + {_CREATED_OFFSET}" if created_name else "0"
        ttl = int(view.ttl.total_seconds()) if view.ttl else 0
        prefix = f"{view.projection.name_to_use()}__" if self.full_feature_names else ""
        select_keys = ", ".join(f"{_quote(column.get(k, k))} AS {_quote(k)}" for k in keys)
        values = ", ".join(f"{_quote(column.get(f, f))} AS {_quote('f_' + f)}" for f in features)
        records = read_records(self._settings, view.name)
        rows = ", ".join(f"('{r.partition}', TIMESTAMPTZ '{r.finished_at.isoformat()}')" for r in records)
        finished = f"(VALUES {rows}) AS r(ds, finished)" if rows else (
            "(SELECT NULL::VARCHAR AS ds, NULL::TIMESTAMPTZ AS finished WHERE false) AS r"
        )  # fmt: skip
        step = int(grain_length(grain_of(view)).total_seconds())
        path = str(source.path).replace("'", "''")
        key_list = ", ".join(_quote(k) for k in keys)
        packed = ", ".join(["__event := __event", *[f"{_quote('f_' + f)} := {_quote('f_' + f)}" for f in features]])
        on_keys = " AND ".join(f"e.{_quote(ek)} = g.{_quote(k)}" for k, ek in zip(keys, entity_keys, strict=True))
        alive = f"g.best.__event >= e.{_TS} - INTERVAL {ttl} SECOND" if ttl else "g.best IS NOT NULL"
        outputs = ", ".join(
            f"CASE WHEN {alive} THEN g.best.{_quote('f_' + f)} END AS {_quote(prefix + f)}" for f in features
        )
        # A running arg_max over each key's rows ordered by availability (RANGE: rows of one partition share their
        # finished_at and count together) is what the online store held at each instant, newer-wins by (event time,
        # created); the ASOF join then takes the last instant at or before the entity timestamp.
        return f"""
            WITH f AS (
                SELECT {select_keys}, {event} AS __event,
                       CAST(epoch_us({event}) AS HUGEINT) * {_SHIFT} + {created_us} AS __order, {values},
                       CASE WHEN regexp_matches(src.filename, '/{STREAM_PREFIX}[^/]*$') THEN {created}
                            ELSE coalesce(r.finished, {event} + INTERVAL {step} SECOND) END AS __avail
                FROM read_parquet('{path}', union_by_name = true, filename = true) AS src
                LEFT JOIN {finished} ON r.ds = regexp_extract(src.filename, 'ds=([^/]+)/[^/]*$', 1)
            ),
            g AS (
                SELECT {key_list}, __avail,
                       arg_max(struct_pack({packed}), __order) OVER (
                           PARTITION BY {key_list} ORDER BY __avail
                           RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS best
                FROM f WHERE __avail <= (SELECT max({_TS}) FROM entity)
            )
            SELECT e.{_ROW}, {outputs}
            FROM entity AS e ASOF LEFT JOIN g ON {on_keys} AND e.{_TS} >= g.__avail
            ORDER BY e.{_ROW}
        """
