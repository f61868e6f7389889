"""Training-data retrieval for the local parquet offline store: Feast's DuckDB store with a point-in-time join
planned as one hash join and one aggregate per feature view.

Per feature view, each entity row is joined by key to the feature rows inside its window
(``entity ts - ttl <= event_timestamp <= entity ts``) and ``arg_max(location, (event time, created))`` keeps the
latest of them: the same shape as Feast's Athena/Redshift template (window join, then ``ROW_NUMBER() = 1`` per
entity row), with the aggregate in place of a window sort. The join carries only keys, timestamps and each feature
row's location in the scan (file index, row number); the feature columns are read and joined back for the winners
only (two phases, one query). Measured against an ``ASOF JOIN``, a one-phase aggregate over the feature values and
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
from featurekit.intervals import grain_length
from featurekit.offline.availability import unsupported
from featurekit.offline.engine import retrieval_cursor
from featurekit.offline.layout import STREAM_PREFIX
from featurekit.offline.parquet import STORE_TYPE
from featurekit.offline.training_filter import refuse_unvalidated, report_skips, validated_source_files
from featurekit.tags import grain_of

_ROW, _TS = "__featurekit_row", "__featurekit_ts"
_SHIFT = 2**63  # event_us * _SHIFT + created key: lexicographic (event time, created) in one HUGEINT
_CREATED_OFFSET = 2**62  # keeps the created part positive (any date after ~146,000 BC) and below _SHIFT
_FILE_SHIFT = 2**40  # a feature row's location: file index * _FILE_SHIFT + row number in that file


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
            on_demand=OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry),
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


def _refuse_unvalidated(data_source: Any, *args: Any, **kwargs: Any) -> None:
    """Positional or keyword (Feast passes keywords): join keys, features, timestamp, created, start, end."""
    if not isinstance(data_source, FileSource):
        return
    start = kwargs.get("start_date", args[4] if len(args) > 4 else None)
    end = kwargs.get("end_date", args[5] if len(args) > 5 else None)
    refuse_unvalidated(str(data_source.path), start, end)


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
            con.register("entity_input", entities.append_column(_ROW, pa.array(np.arange(entities.num_rows))))
            stamp = _quote(self._timestamp_column)
            con.execute(f"CREATE TEMP VIEW entity AS SELECT *, CAST({stamp} AS TIMESTAMPTZ) AS {_TS} FROM entity_input")
            first, last = con.execute(f"SELECT min({_TS}), max({_TS}) FROM entity").fetchall()[0]
            for view in self._feature_views:
                features = self._features_of(view)
                if not features:
                    continue
                span = (first, last) if first is not None else None  # no entity rows: the bounds are NULL
                files = self._files[view.name] if view.name in self._files else _expand(con, view.batch_source.path)
                joined = con.sql(self._view_query(view, features, span, files)).to_arrow_table()
                for name, column in _in_input_order(joined, entities.num_rows).items():
                    result = result.append_column(name, column)
        return result

    def _features_of(self, view: Any) -> list[str]:
        name = view.projection.name_to_use()
        return [ref.split(":", 1)[1] for ref in self._feature_refs if ref.split(":", 1)[0] == name]

    def _view_query(
        self, view: Any, features: list[str], span: tuple[Any, Any] | None = None, files: list[str] | None = None
    ) -> str:
        """``(entity row, features...)`` for the entity rows with a qualifying feature row, in any order.

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
        event = _quote(column.get(source.timestamp_field, source.timestamp_field))
        created = source.created_timestamp_column
        ttl = int(view.ttl.total_seconds()) if view.ttl else 0
        prefix = f"{view.projection.name_to_use()}__" if self._full_feature_names else ""
        select_keys = ", ".join(f"{_quote(column.get(k, k))} AS {_quote(k)}" for k in keys)
        # One 128-bit order key, event_us * 2^63 + created_us (shifted to stay positive): arg_max over it keeps the
        # latest event time and, among equal event times, the newest `created`, as in Feast. Computed after the
        # join, so only for the rows inside a window.
        created_us = f"coalesce(epoch_us(f.__created), 0) + {_CREATED_OFFSET}" if created else "0"
        created_column = _quote(column.get(created, created)) if created else "NULL"
        first, last = (
            (f"TIMESTAMPTZ '{span[0].isoformat()}'", f"TIMESTAMPTZ '{span[1].isoformat()}'")
            if span
            else (f"(SELECT min({_TS}) FROM entity)", f"(SELECT max({_TS}) FROM entity)")
        )
        lower = f"AND {event} >= {first} - INTERVAL {ttl} SECOND" if ttl else ""
        on_keys = " AND ".join(f"e.{_quote(ek)} = f.{_quote(k)}" for k, ek in zip(keys, entity_keys, strict=True))
        window = f"AND f.__event >= e.{_TS} - INTERVAL {ttl} SECOND" if ttl else ""
        outputs = ", ".join(f"src.{_quote(column.get(f, f))} AS {_quote(prefix + f)}" for f in features)
        reads = _parquet_reads(str(source.path), files)
        # A row's location in one BIGINT: file index * 2^40 + row number (files < 2^23, rows per file < 2^40).
        return f"""
            WITH f AS (
                SELECT {select_keys}, {event} AS __event, {created_column} AS __created,
                       CAST(file_index AS BIGINT) * {_FILE_SHIFT} + file_row_number AS __location
                FROM {reads[0]}
                WHERE {event} <= {last} {lower} {reads[1]}
            ),
            latest AS (
                SELECT e.{_ROW},
                       arg_max(f.__location, CAST(epoch_us(f.__event) AS HUGEINT) * {_SHIFT} + {created_us}) AS loc
                FROM entity AS e JOIN f ON {on_keys} AND f.__event <= e.{_TS} {window}
                GROUP BY e.{_ROW}
            )
            SELECT w.{_ROW}, {outputs}
            FROM latest AS w JOIN {reads[0]} AS src
              ON src.file_index = CAST(w.loc // {_FILE_SHIFT} AS UBIGINT)
             AND src.file_row_number = w.loc % {_FILE_SHIFT}
        """


def _in_input_order(joined: pa.Table, rows: int) -> dict[str, pa.ChunkedArray | pa.Array]:
    """``joined``'s feature columns (all but the first, the entity row number) as ``rows``-long columns in input
    order, null where an entity row has no result."""
    position = np.full(rows, -1, dtype=np.int64)
    position[joined.column(0).to_numpy()] = np.arange(joined.num_rows, dtype=np.int64)
    take = pa.array(position, mask=position < 0)
    return {name: joined.column(name).take(take) for name in joined.column_names[1:]}


def _expand(con: Any, glob: str) -> list[str] | None:
    """The files ``glob`` matches now, listed once for both phases of the query (a file written between two
    expansions would shift the file indexes); None when nothing matches (the scan then reports the glob)."""
    files = [row[0] for row in con.execute("SELECT file FROM glob(?) ORDER BY file", [glob]).fetchall()]
    return files or None


def _parquet_reads(glob: str, files: list[str] | None) -> tuple[str, str]:
    """``(FROM clause, extra WHERE)``: the view's glob, or exactly ``files``; with every file filtered out, the glob
    (for its columns) and a condition no row meets."""
    if files is None or not files:
        return f"read_parquet({_literal(glob)}, union_by_name = true)", "" if files is None else "AND false"
    return f"read_parquet([{', '.join(_literal(f) for f in files)}], union_by_name = true)", ""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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

    def _view_query(
        self, view: Any, features: list[str], span: tuple[Any, Any] | None = None, files: list[str] | None = None
    ) -> str:
        """Reads every file of the view (its glob): availability comes from each partition's record."""
        from featurekit.offline.records import read_records

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
