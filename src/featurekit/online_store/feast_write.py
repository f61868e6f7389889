"""Feast's write APIs on the Arrow writer: a batch engine for ``materialize`` and a provider for online ingestion.

Feast converts every value to protobuf before it reaches an online store (``_convert_arrow_to_proto`` in its
compute engines and in ``PassthroughProvider.ingest_df``), which costs more than Redis itself. Two Feast extension
points, both loaded by import path from ``feature_store.yaml`` (the kit writes them, see ``repo/feast_config.py``),
hand Arrow data straight to :meth:`TieredRedisOnlineStore.write_arrow` instead:

* ``batch_engine: {type: featurekit.online_store.feast_write.FeaturekitMaterializationEngine}`` runs
  ``FeatureStore.materialize`` / ``materialize_incremental`` / ``feast materialize``: the offline store's newest row
  per entity (``pull_latest_from_table_or_query``) is streamed as Arrow record batches (ibis-backed stores such as
  DuckDB yield them while the query runs) into ``write_arrow`` on the calling thread, the next batch being produced on
  a background thread meanwhile.
* ``provider: featurekit.online_store.feast_write.FeaturekitProvider`` (Feast's passthrough provider) turns the
  DataFrame of ``write_to_online_store`` and ``push`` into one Arrow table (source field mapping applied, as Feast
  does) and writes it with ``write_arrow``.

Anything the fast path does not cover falls back to Feast's own implementation unchanged: views with a transformation,
aggregations or offline writes, on-demand views, and any online store other than the featurekit one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any, Literal, cast

import pandas as pd
import pyarrow as pa
from feast.feature_view import FeatureView
from feast.infra.common.materialization_job import MaterializationJobStatus, MaterializationTask
from feast.infra.compute_engines.local.compute import LocalComputeEngine
from feast.infra.compute_engines.local.job import LocalMaterializationJob
from feast.infra.passthrough_provider import PassthroughProvider
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel

from featurekit.online_store.config import ENGINE_TYPE, PROVIDER_TYPE
from featurekit.online_store.store import TieredRedisOnlineStore

__all__ = ["ENGINE_TYPE", "PROVIDER_TYPE", "FeaturekitMaterializationEngine", "FeaturekitProvider"]
logger = logging.getLogger(__name__)
_BATCH_ROWS = 100_000  # Arrow rows per batch pulled from the offline store


class FeaturekitMaterializationEngineConfig(FeastConfigBaseModel):
    """``batch_engine`` block of ``feature_store.yaml`` (Feast looks the config class up by the engine's name)."""

    type: Literal["featurekit.online_store.feast_write.FeaturekitMaterializationEngine"] = ENGINE_TYPE
    backend: str | None = None  # passed to Feast's local engine for views that fall back to it
    batch_rows: int = _BATCH_ROWS


class FeaturekitMaterializationEngine(LocalComputeEngine):
    """Feast's local compute engine, with plain feature views materialized through ``write_arrow``."""

    def __init__(self, *, batch_rows: int = _BATCH_ROWS, **kwargs: Any) -> None:
        kwargs.pop("type", None)
        super().__init__(**kwargs)
        self.batch_rows = batch_rows

    @property
    def supports_batch(self) -> bool:
        """Feast hands all views of one ``materialize`` call to :meth:`materialize` at once, so the offline query
        of the next view runs while the current one is written."""
        return True

    def materialize(
        self, registry: BaseRegistry, tasks: MaterializationTask | list[MaterializationTask], **kwargs: Any
    ) -> list[Any]:
        """One job per task, in order; plain views through ``write_arrow``, the rest through Feast's local engine.
        A failure is reported in that view's job (Feast raises it after recording the others)."""
        tasks = [tasks] if isinstance(tasks, MaterializationTask) else list(tasks)
        jobs: list[Any] = [None] * len(tasks)
        fast = [i for i, t in enumerate(tasks) if self._fast(t)]
        for i, task in enumerate(tasks):
            if i not in fast:
                jobs[i] = super()._materialize_one(registry, task, **kwargs)
        errors = self.materialize_views(registry, [tasks[i] for i in fast])
        for i, error in zip(fast, errors, strict=True):
            task = tasks[i]
            job_id = f"{task.feature_view.name}-{task.start_time}-{task.end_time}"
            status = MaterializationJobStatus.ERROR if error else MaterializationJobStatus.SUCCEEDED
            jobs[i] = LocalMaterializationJob(job_id=job_id, status=status, error=error)
        return jobs

    def _materialize_one(self, registry: BaseRegistry, task: MaterializationTask, **kwargs: Any) -> Any:
        return self.materialize(registry, [task], **kwargs)[0]

    def _fast(self, task: MaterializationTask) -> bool:
        return isinstance(self.online_store, TieredRedisOnlineStore) and _plain_view(task.feature_view)

    def materialize_views(self, registry: BaseRegistry, tasks: list[MaterializationTask]) -> list[Exception | None]:
        """Stream each view's newest row per entity in ``[start, end)`` into the online store. The offline
        queries run one after the other on a background thread, ahead of the writes; returns each task's error."""
        from feast.utils import _run_pyarrow_field_mapping

        store: TieredRedisOnlineStore = self.online_store  # type: ignore[assignment]
        errors: list[Exception | None] = [None] * len(tasks)
        written = [0] * len(tasks)
        bars: dict[int, Any] = {}
        try:
            for k, item in _prefetched(self._batches(registry, tasks)):
                if errors[k] is not None:
                    continue
                if isinstance(item, Exception):
                    errors[k] = item
                    continue
                view = tasks[k].feature_view
                table = pa.Table.from_batches([item]) if isinstance(item, pa.RecordBatch) else item
                if table.num_rows == 0:
                    continue
                mapping = view.batch_source.field_mapping
                if mapping:
                    table = _run_pyarrow_field_mapping(table, mapping)
                bar = bars.get(k)
                if bar is None:
                    bar = bars[k] = tasks[k].tqdm_builder(0)
                bar.total = (bar.total or 0) + table.num_rows
                try:
                    store.write_arrow(self.repo_config, view, table, progress=bar.update)
                except Exception as exc:  # this view failed; the others go on
                    errors[k] = exc
                written[k] += table.num_rows
        finally:
            for bar in bars.values():
                bar.close()
        from featurekit.online_store.sizing import check_sizing

        for k, task in enumerate(tasks):
            if written[k] and errors[k] is None:
                for problem in check_sizing(store, self.repo_config, task.feature_view).problems:
                    logger.warning(problem)
        return errors

    def _batches(self, registry: BaseRegistry, tasks: list[MaterializationTask]) -> Iterator[tuple[int, Any]]:
        """``(task index, record batch or exception)`` for every task in turn (runs on the prefetch thread)."""
        from feast.utils import _get_column_names

        for k, task in enumerate(tasks):
            view = task.feature_view
            try:
                entities = [registry.get_entity(name, task.project) for name in view.entities]
                join_keys, features, ts_col, created_col = _get_column_names(view, entities)
                job = self.offline_store.pull_latest_from_table_or_query(
                    config=self.repo_config,
                    data_source=cast(Any, view.batch_source),  # a materialized view has one
                    join_key_columns=join_keys,
                    feature_name_columns=features,
                    timestamp_field=ts_col,
                    created_timestamp_column=created_col,
                    start_date=task.start_time,
                    end_date=task.end_time,
                )
                for batch in _arrow_batches(job, self.batch_rows):
                    yield k, batch
            except Exception as exc:  # reported as this view's failure
                yield k, exc


def _plain_view(view: Any) -> bool:
    """A view whose offline rows are its online rows (no transformation, aggregation or offline write)."""
    return (
        isinstance(view, FeatureView)
        and view.online
        and not getattr(view, "offline", False)
        and getattr(view, "feature_transformation", None) is None
        and not getattr(view, "aggregations", None)
        and view.batch_source is not None
    )


def _arrow_batches(job: Any, batch_rows: int) -> Iterator[pa.RecordBatch | pa.Table]:
    """Record batches of a retrieval job: streamed from DuckDB while the query runs when the job is an ibis
    expression on a DuckDB backend (Feast's ``duckdb`` store and the kit's), otherwise the job's whole Arrow table
    split into batches."""
    expr = getattr(job, "table", None)
    backend = None
    if expr is not None and hasattr(expr, "to_pyarrow"):
        import ibis

        try:
            backend = ibis.get_backend(expr)
        except Exception:  # not bound to one backend: let the job materialize itself
            backend = None
    if backend is not None and getattr(backend, "name", "") == "duckdb":
        reader = backend.con.sql(str(backend.compile(expr))).to_arrow_reader(batch_rows)
        yield from reader
        return
    yield from job.to_arrow().to_batches(max_chunksize=batch_rows)


def _prefetched(batches: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """Produce the next items on a background thread while the caller consumes the current one (the offline query
    and the Redis writes overlap); an error in the producer is re-raised in the caller."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", None))
        except BaseException as exc:  # handed to the consumer
            q.put(("error", exc))

    thread = threading.Thread(target=produce, name="featurekit-materialize-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class FeaturekitProvider(PassthroughProvider):
    """Feast's passthrough provider with ``write_to_online_store`` and ``push`` written as Arrow."""

    def ingest_df(self, feature_view: Any, df: pd.DataFrame, field_mapping: dict[str, str] | None = None) -> None:
        table = self._arrow_for(feature_view, df)
        if table is None:
            super().ingest_df(feature_view, df, field_mapping)
            return
        self.online_store.write_arrow(self.repo_config, feature_view, table)

    async def ingest_df_async(
        self, feature_view: Any, df: pd.DataFrame, field_mapping: dict[str, str] | None = None
    ) -> None:
        table = self._arrow_for(feature_view, df)
        if table is None:
            await super().ingest_df_async(feature_view, df, field_mapping)
            return
        await self.online_store.write_arrow_async(self.repo_config, feature_view, table)

    def _arrow_for(self, feature_view: Any, df: pd.DataFrame) -> pa.Table | None:
        """The DataFrame as the Arrow table ``write_arrow`` takes, or ``None`` when Feast's path must handle it."""
        if not isinstance(self.online_store, TieredRedisOnlineStore) or isinstance(feature_view, OnDemandFeatureView):
            return None
        if not isinstance(feature_view, FeatureView) or feature_view.batch_source is None:
            return None
        from feast.utils import _run_pyarrow_field_mapping

        table = pa.Table.from_pandas(df, preserve_index=False)
        mapping = feature_view.batch_source.field_mapping
        return _run_pyarrow_field_mapping(table, mapping) if mapping else table
