"""Availability-time training data: each feature value joins at the moment it became servable online.

Feast joins on event time: a daily snapshot for the interval ending at midnight is used in training from midnight,
but serving only has it after the materialization that ran at, say, 02:00. A model trained on event-time joins sees
fresher values than it gets in production. In availability mode a feature row counts for an entity row at ``t`` when
it was *available* at ``t``:

* batch rows: the ``finished_at`` of the kit's materialization record of their partition
  (:mod:`featurekit.offline.records`); without a record, event time plus the view's interval (one day, one hour);
* rows the stream sink wrote (``stream-*`` files): their ``created`` time, the stream's processing time.

Among available rows the one served is what the online store keeps: the newest by (event time, created), since its
writes are newer-wins; and it expires after the view's ttl counted from the event time, as online. Event time stays
the default; the mode is chosen per call (``mode=``) or per feature service (tag ``training_time: availability``).

The mode travels to the kit's offline store (:mod:`featurekit.offline.retrieval`, whose
``AvailabilityRetrievalJob`` writes the query) in a context variable set around Feast's own
``get_historical_features``, so nothing in Feast is patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pandas as pd

from featurekit.config.settings import Settings
from featurekit.errors import FeaturekitError

EVENT, AVAILABILITY = "event", "availability"
MODES = (EVENT, AVAILABILITY)
SERVICE_TAG = "training_time"


class AvailabilityModeError(FeaturekitError, ValueError):
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
    from featurekit.offline.parquet import ParquetOfflineStore

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


def unsupported(reason: str) -> None:
    """Fail loudly instead of silently falling back to event time."""
    if current() is not None:
        raise AvailabilityModeError(f"availability-time retrieval needs {reason}")
