"""Training reads on Athena leave out batch partitions without a passing validation record, as the local store does.

Feast's Athena offline store reads a view's whole Glue table, so a batch extracted but not validated yet (or one
whose validation failed) would reach a training set. :class:`ValidatedAthenaOfflineStore` is that store with one
change: before the point-in-time query is built, each view whose offline data has such partitions reads a query over
the same table that excludes their ``batch-*`` files by Athena's ``"$path"`` pseudo-column. Which files to exclude
comes from :func:`featurekit.offline.training_filter.validated_files` over the S3 layout (the same records the
local store reads), and the skips are reported the same way (log line, metric, :class:`SkippedPartitionsWarning`).
Streamed and pushed files are always read: they were gated when they were written. Feast's own ``materialize``
(``pull_*_from_table_or_query``) is refused for such partitions, as the local store and the kit's materialization
refuse them.

The record's location is the kit's offline root (``s3_root`` in this store's config, written by
:meth:`featurekit.offline.athena.AthenaOfflineStore.feast_store_block`).
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
from feast.infra.offline_stores.contrib.athena_offline_store.athena import (
    AthenaOfflineStore,
    AthenaOfflineStoreConfig,
)
from feast.infra.offline_stores.contrib.athena_offline_store.athena_source import AthenaSource
from feast.infra.offline_stores.offline_store import RetrievalJob
from pydantic import StrictBool, StrictStr

from featurekit.offline.athena import TRAINING_STORE_TYPE
from featurekit.offline.athena import AthenaOfflineStore as AthenaBackend
from featurekit.offline.pit_sql import literal
from featurekit.offline.storage import OfflineLocation
from featurekit.offline.training_filter import pull_window, refuse_unvalidated, report_skips, validated_files


class ValidatedAthenaOfflineStoreConfig(AthenaOfflineStoreConfig):
    """Feast's Athena options, plus where the kit's offline data and validation records live."""

    type: StrictStr = TRAINING_STORE_TYPE  # type: ignore[assignment]  # Feast's is Literal["athena"]
    s3_root: StrictStr
    training_requires_validation: StrictBool = True


class ValidatedAthenaOfflineStore(AthenaOfflineStore):
    @staticmethod
    def get_historical_features(
        config: Any,
        feature_views: list[Any],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str,
        registry: Any,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        store = config.offline_store
        if store.training_requires_validation:
            location = _location(store)
            feature_views = [_validated_view(fv, location, config) for fv in feature_views]
        return AthenaOfflineStore.get_historical_features(
            config, feature_views, feature_refs, entity_df, registry, project, full_feature_names,
            filter_by_created_timestamp,
        )  # fmt: skip

    # Feast's own ``materialize`` reads through one of these two: refused for partitions without a passing record,
    # as the kit's materialization and the local store refuse them.
    @staticmethod
    def pull_latest_from_table_or_query(config: Any, data_source: Any, *args: Any, **kwargs: Any) -> RetrievalJob:
        _refuse_unvalidated(config.offline_store, data_source, args, kwargs)
        return AthenaOfflineStore.pull_latest_from_table_or_query(config, data_source, *args, **kwargs)

    @staticmethod
    def pull_all_from_table_or_query(config: Any, data_source: Any, *args: Any, **kwargs: Any) -> RetrievalJob:
        _refuse_unvalidated(config.offline_store, data_source, args, kwargs)
        return AthenaOfflineStore.pull_all_from_table_or_query(config, data_source, *args, **kwargs)


def _refuse_unvalidated(
    store: ValidatedAthenaOfflineStoreConfig, source: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    if isinstance(source, AthenaSource) and source.table:
        refuse_unvalidated(validated_files(_location(store), source.table), *pull_window(args, kwargs))


def _location(store: ValidatedAthenaOfflineStoreConfig) -> OfflineLocation:
    backend = AthenaBackend(
        s3_root=store.s3_root,
        database=store.database,
        workgroup=store.workgroup,
        results_location=store.s3_staging_location,
        region=store.region,
    )
    return OfflineLocation(*backend.filesystem())


def _validated_view(view: Any, location: OfflineLocation, config: Any) -> Any:
    """``view`` itself when training may read its whole table; else a copy reading it without the batch files of
    the partitions that lack a passing record."""
    source = view.batch_source
    if not isinstance(source, AthenaSource) or not source.table:
        return view  # a query source: the kit's layout is not behind it
    selection = validated_files(location, source.table)
    report_skips(selection)
    if not selection.excluded:  # nothing skipped, or the failed batches were already moved to quarantine
        return view
    listed = ", ".join(literal(f"s3://{path}") for path in selection.excluded)
    store = config.offline_store
    filtered = copy.copy(view)
    filtered.batch_source = AthenaSource(
        name=source.name,
        query=f'SELECT * FROM {source.get_table_query_string(config)} WHERE "$path" NOT IN ({listed})',
        database=store.database,
        data_source=store.data_source,
        timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column,
        field_mapping=source.field_mapping,
    )
    return filtered
