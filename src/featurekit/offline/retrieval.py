"""Training-data retrieval for the local parquet offline store: Feast's DuckDB store with a point-in-time join
planned as one hash join and one aggregate per feature view.

Per feature view, each entity row is joined by key to the feature rows inside its window
(``entity ts - ttl <= event_timestamp <= entity ts``) and ``arg_max(location, (event time, created))`` keeps the
latest of them: the same shape as Feast's Athena/Redshift template (window join, then ``ROW_NUMBER() = 1`` per
entity row), with the aggregate in place of a window sort. The join carries only keys, timestamps and each feature
row's location in the scan (file index, row number); the feature columns are read for the winners only: straight
from the parquet row groups that hold them when the columns are plain numbers (:mod:`featurekit.offline.winners`),
else joined back in the same query. Measured against an ``ASOF JOIN``, a one-phase aggregate over the feature values and
stock Feast's ibis plan in ``featurekit bench batch`` (``docs/performance.md``). The semantics are Feast's, kept
exactly:

* a feature row counts if ``event_timestamp <= entity timestamp`` and, with a ttl, ``>= entity timestamp - ttl``;
* rows with the same key and ``event_timestamp`` are resolved by the newest ``created`` (a rerun's rows win);
* every entity row comes back once, in the input order, with nulls where no feature row qualifies.

The join's result only holds matched entity rows; they are scattered back to input order in Arrow (a ``take``),
which is cheaper than a left join and a sort in SQL. Each retrieval runs on its own cursor of one DuckDB database
per process (:mod:`featurekit.offline.engine`), opened with the store's ``memory_limit`` and ``temp_directory``: a
join larger than the limit spills to disk instead of failing.

Unless ``training_requires_validation`` is off (``quality`` in the environment's config), only batch partitions
that passed validation are read (:mod:`featurekit.offline.training_filter`), and the skipped ones are reported.

Everything else (``pull_latest``/``pull_all`` for materialization, saved datasets, SQL entity frames,
``filter_by_created_timestamp``) is the stock DuckDB store, inherited. Feast loads this class by import path
(``offline_store.type``), so nothing in Feast is patched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast.infra.offline_stores.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from feast.infra.offline_stores.file_source import FileSource
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df
from feast.on_demand_feature_view import OnDemandFeatureView
from pydantic import StrictBool, StrictStr

from featurekit.config.settings import Settings
from featurekit.offline.availability import unsupported
from featurekit.offline.availability_sql import availability_query
from featurekit.offline.engine import retrieval_cursor
from featurekit.offline.parquet import STORE_TYPE
from featurekit.offline.pit_sql import CREATED_OFFSET, ROW, SHIFT, TS, literal, quote
from featurekit.offline.training_filter import pull_window, refuse_unvalidated, report_skips, validated_source_files
from featurekit.offline.winners import FILE_SHIFT, DirectRead, direct_read, joined_in_input_order, read_winners


class FeaturekitOfflineStoreConfig(DuckDBOfflineStoreConfig):
    """The options of Feast's DuckDB store; ``type`` is this module's store class path."""

    type: StrictStr = STORE_TYPE
    # Read only batch partitions that passed validation (featurekit.offline.training_filter); settings.quality.
    training_requires_validation: StrictBool = True
    # DuckDB's memory cap for the point-in-time join (e.g. "2GB"; None: DuckDB's default, 80% of RAM) and where it
    # spills past it (None: a directory under the system temp dir). A join larger than the cap spills, not fails.
    memory_limit: StrictStr | None = None
    temp_directory: StrictStr | None = None


class FeaturekitOfflineStore(DuckDBOfflineStore):
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
        supported = (
            isinstance(entity_df, pd.DataFrame)
            and not filter_by_created_timestamp
            and all(isinstance(fv.batch_source, FileSource) for fv in feature_views)
        )

        if not supported:
            unsupported("a pandas entity_df, parquet sources and no filter_by_created_timestamp")
            return DuckDBOfflineStore.get_historical_features(
                config, feature_views, feature_refs, entity_df, registry, project, full_feature_names,
                filter_by_created_timestamp,
            )  # fmt: skip
        assert isinstance(entity_df, pd.DataFrame)
        files: dict[str, list[str]] = {}
        if getattr(config.offline_store, "training_requires_validation", True):
            for fv in feature_views:
                selection = validated_source_files(str(fv.batch_source.path))
                report_skips(selection)
                files[fv.name] = selection.files
        timestamp_column = infer_event_timestamp_from_entity_df(
            dict(zip(entity_df.columns, entity_df.dtypes, strict=True))
        )
        job = AsofRetrievalJob(
            entity_df=entity_df,
            timestamp_column=timestamp_column,
            feature_views=feature_views,
            feature_refs=feature_refs,
            full_feature_names=full_feature_names,
            on_demand=_requested_odfvs(feature_views, feature_refs, project, registry),
            files=files,
            memory_limit=getattr(config.offline_store, "memory_limit", None),
            temp_directory=getattr(config.offline_store, "temp_directory", None),
        )
        return with_availability(job)  # availability-time mode when asked for (featurekit.offline.availability)

    # Feast's own ``materialize`` reads through one of these two: the kit's gate holds on that path too.
    @staticmethod
    def pull_latest_from_table_or_query(config: Any, data_source: Any, *args: Any, **kwargs: Any) -> RetrievalJob:
        _refuse_unvalidated(data_source, *args, **kwargs)
        return DuckDBOfflineStore.pull_latest_from_table_or_query(config, data_source, *args, **kwargs)

    @staticmethod
    def pull_all_from_table_or_query(config: Any, data_source: Any, *args: Any, **kwargs: Any) -> RetrievalJob:
        _refuse_unvalidated(data_source, *args, **kwargs)
        return DuckDBOfflineStore.pull_all_from_table_or_query(config, data_source, *args, **kwargs)


def _requested_odfvs(
    feature_views: list[Any], feature_refs: list[str], project: str, registry: Any
) -> list[OnDemandFeatureView]:
    """The on-demand views ``feature_refs`` ask for. When every ref names one of ``feature_views`` there are none,
    and the registry is not asked: listing its on-demand views parses each one (~2 ms a retrieval)."""
    served = {view.projection.name_to_use() for view in feature_views}
    if all(ref.split(":", 1)[0] in served for ref in feature_refs):
        return []
    return OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)


def _refuse_unvalidated(data_source: Any, *args: Any, **kwargs: Any) -> None:
    if not isinstance(data_source, FileSource):
        return
    refuse_unvalidated(validated_source_files(str(data_source.path)), *pull_window(args, kwargs))


class AsofRetrievalJob(RetrievalJob):
    """Runs one point-in-time query per feature view and appends its columns to the entity rows (the name is
    historical: the availability-time subclass still uses an ``ASOF`` join)."""

    def __init__(
        self,
        *,
        entity_df: pd.DataFrame,
        timestamp_column: str,
        feature_views: list[Any],
        feature_refs: list[str],
        full_feature_names: bool,
        on_demand: list[OnDemandFeatureView],
        files: dict[str, list[str]] | None = None,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
    ) -> None:
        """``files``: per view name, the only files to read (validated ones); a view not in it reads its glob.
        ``memory_limit``/``temp_directory``: DuckDB's cap and spill directory (the store config's options)."""
        self._entity_df = entity_df
        self._timestamp_column = timestamp_column
        self._feature_views = feature_views
        self._feature_refs = feature_refs
        self._full_feature_names = full_feature_names
        self._on_demand = on_demand
        self._files = files or {}
        self._memory_limit = memory_limit
        self._temp_directory = temp_directory

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._on_demand

    @property
    def metadata(self) -> RetrievalMetadata | None:
        stamps = pd.to_datetime(self._entity_df[self._timestamp_column], utc=True)
        keys = [c for c in self._entity_df.columns if c != self._timestamp_column]
        return RetrievalMetadata(
            features=self._feature_refs,
            keys=keys,
            min_event_timestamp=stamps.min().to_pydatetime(),
            max_event_timestamp=stamps.max().to_pydatetime(),
        )

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        entities = pa.Table.from_pandas(self._entity_df, preserve_index=False)
        result = entities
        with retrieval_cursor(self._memory_limit, self._temp_directory) as con:
            con.register("entity_input", entities.append_column(ROW, pa.array(np.arange(entities.num_rows))))
            stamp = quote(self._timestamp_column)
            con.execute(f"CREATE TEMP VIEW entity AS SELECT *, CAST({stamp} AS TIMESTAMPTZ) AS {TS} FROM entity_input")
            first, last = con.execute(f"SELECT min({TS}), max({TS}) FROM entity").fetchall()[0]
            for view in self._feature_views:
                features = self._features_of(view)
                if not features:
                    continue
                span = (first, last) if first is not None else None  # no entity rows: the bounds are NULL
                files = self._files[view.name] if view.name in self._files else _expand(con, view.batch_source.path)
                direct = self._direct_read(view, features, files)
                query = self._view_query(view, features, span, files, winners_only=direct is not None)
                joined = con.sql(query).to_arrow_table()
                if direct is not None:
                    columns = read_winners(direct, joined, entities.num_rows)
                else:
                    columns = joined_in_input_order(joined, entities.num_rows)
                for name, column in columns.items():
                    result = result.append_column(name, column)
        return result

    def _direct_read(self, view: Any, features: list[str], files: list[str] | None) -> DirectRead | None:
        """How to read the winners' values straight from parquet (:mod:`featurekit.offline.winners`), or None to
        let DuckDB join them back."""
        column = {v: k for k, v in (view.batch_source.field_mapping or {}).items()}
        prefix = f"{view.projection.name_to_use()}__" if self._full_feature_names else ""
        return direct_read(files, [column.get(f, f) for f in features], [prefix + f for f in features])

    def _features_of(self, view: Any) -> list[str]:
        name = view.projection.name_to_use()
        return [ref.split(":", 1)[1] for ref in self._feature_refs if ref.split(":", 1)[0] == name]

    def _view_query(
        self,
        view: Any,
        features: list[str],
        span: tuple[Any, Any] | None = None,
        files: list[str] | None = None,
        *,
        winners_only: bool = False,
    ) -> str:
        """``(entity row, features...)`` for the entity rows with a qualifying feature row, in any order; with
        ``winners_only``, ``(entity row, location)`` (the caller reads the values, :mod:`featurekit.offline.winners`).

        Two phases in one query: the join and ``arg_max`` carry only each feature row's keys, timestamps and
        location (file index and row number in the scan), so the aggregate's state is two integers; the feature
        columns are then read for the winning rows only, joined back by location. Carrying the feature values
        through the join and the aggregate (a struct per joined row) cost ~15-20% more CPU at 100k x 1M.
        ``span``: the entity timestamps' (min, max), inlined as literals so the parquet scan prunes by statistics.
        ``files``: the files to read (both phases read the same list, so a location means the same row in both);
        None reads the source's glob, an empty list none of it.
        """
        source: FileSource = view.batch_source
        mapping = source.field_mapping or {}
        column = {v: k for k, v in mapping.items()}  # Feast name -> source column
        keys = [c.name for c in view.entity_columns]
        entity_keys = [view.projection.join_key_map.get(k, k) for k in keys]
        event = quote(column.get(source.timestamp_field, source.timestamp_field))
        created = source.created_timestamp_column
        ttl = int(view.ttl.total_seconds()) if view.ttl else 0
        prefix = f"{view.projection.name_to_use()}__" if self._full_feature_names else ""
        select_keys = ", ".join(f"{quote(column.get(k, k))} AS {quote(k)}" for k in keys)
        # One 128-bit order key, event_us * 2^63 + created_us (shifted to stay positive): arg_max over it keeps the
        # latest event time and, among equal event times, the newest `created`, as in Feast. Computed after the
        # join, so only for the rows inside a window.
        created_us = f"coalesce(epoch_us(f.__created), 0) + {CREATED_OFFSET}" if created else "0"
        created_column = quote(column.get(created, created)) if created else "NULL"
        first, last = (
            (f"TIMESTAMPTZ '{span[0].isoformat()}'", f"TIMESTAMPTZ '{span[1].isoformat()}'")
            if span
            else (f"(SELECT min({TS}) FROM entity)", f"(SELECT max({TS}) FROM entity)")
        )
        lower = f"AND {event} >= {first} - INTERVAL {ttl} SECOND" if ttl else ""
        on_keys = " AND ".join(f"e.{quote(ek)} = f.{quote(k)}" for k, ek in zip(keys, entity_keys, strict=True))
        window = f"AND f.__event >= e.{TS} - INTERVAL {ttl} SECOND" if ttl else ""
        outputs = ", ".join(f"src.{quote(column.get(f, f))} AS {quote(prefix + f)}" for f in features)
        reads = _parquet_reads(str(source.path), files)
        ending = (
            f"SELECT {ROW}, loc FROM latest"
            if winners_only
            else f"SELECT w.{ROW}, {outputs} FROM latest AS w JOIN {reads[0]} AS src "
            f"ON src.file_index = CAST(w.loc // {FILE_SHIFT} AS UBIGINT) AND src.file_row_number = w.loc % {FILE_SHIFT}"
        )
        # A row's location in one BIGINT: file index * 2^40 + row number (files < 2^23, rows per file < 2^40).
        return f"""
            WITH f AS (
                SELECT {select_keys}, {event} AS __event, {created_column} AS __created,
                       CAST(file_index AS BIGINT) * {FILE_SHIFT} + file_row_number AS __location
                FROM {reads[0]}
                WHERE {event} <= {last} {lower} {reads[1]}
            ),
            latest AS (
                SELECT e.{ROW},
                       arg_max(f.__location, CAST(epoch_us(f.__event) AS HUGEINT) * {SHIFT} + {created_us}) AS loc
                FROM entity AS e JOIN f ON {on_keys} AND f.__event <= e.{TS} {window}
                GROUP BY e.{ROW}
            )
            {ending}
        """


def _expand(con: Any, glob: str) -> list[str] | None:
    """The files ``glob`` matches now, listed once for both phases of the query (a file written between two
    expansions would shift the file indexes); None when nothing matches (the scan then reports the glob)."""
    files = [row[0] for row in con.execute("SELECT file FROM glob(?) ORDER BY file", [glob]).fetchall()]
    return files or None


def _parquet_reads(glob: str, files: list[str] | None) -> tuple[str, str]:
    """``(FROM clause, extra WHERE)``: the view's glob, or exactly ``files``; with every file filtered out, the glob
    (for its columns) and a condition no row meets."""
    if files is None or not files:
        return f"read_parquet({literal(glob)}, union_by_name = true)", "" if files is None else "AND false"
    return f"read_parquet([{', '.join(literal(f) for f in files)}], union_by_name = true)", ""


# ---- availability-time mode (featurekit.offline.availability sets the context; this job writes the query) ----


def with_availability(job: AsofRetrievalJob) -> AsofRetrievalJob:
    """The kit store's retrieval job, switched to availability time when the caller asked for it."""
    from featurekit.offline.availability import current

    context = current()
    if context is None:
        return job
    available = AvailabilityRetrievalJob.__new__(AvailabilityRetrievalJob)
    available.__dict__.update(job.__dict__)
    available._settings = context.settings
    return available


class AvailabilityRetrievalJob(AsofRetrievalJob):
    """The ASOF job with each feature row keyed by its availability time instead of its event time."""

    _settings: Settings

    def _direct_read(self, view: Any, features: list[str], files: list[str] | None) -> DirectRead | None:
        return None  # one query with the values: its rows are chosen by availability, not by location

    def _view_query(
        self,
        view: Any,
        features: list[str],
        span: tuple[Any, Any] | None = None,
        files: list[str] | None = None,
        *,
        winners_only: bool = False,
    ) -> str:
        """Reads every file of the view (its glob): availability comes from each partition's record."""
        return availability_query(self._settings, view, features, full_feature_names=self.full_feature_names)
