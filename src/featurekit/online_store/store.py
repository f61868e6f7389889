"""``TieredRedisOnlineStore``: the Feast online store class.

Configured as ``online_store: type: featurekit.online_store.store.TieredRedisOnlineStore``.

Feast's own entry points (``materialize``, ``write_to_online_store``, ``push``, ``get_online_features``) go through
:meth:`online_write_batch` and :meth:`online_read`, which convert to and from Feast's protobuf values and then use
the same vectorized path as :meth:`write_arrow` and the same row decoder as :mod:`featurekit.serving`, so stock
Feast readers and the fast path always see the same data. Layout, tiers, newer-wins, ttl and teardown are
described in ``docs/online-store.md``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from feast import Entity, FeatureView, RepoConfig
from feast.feature_service import FeatureService
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.registry.base_registry import BaseRegistry
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.online_response import OnlineResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type

from featurekit.arrow_types import arrow_type, python_values_to_arrow
from featurekit.online_store.aio import close_loop_connections
from featurekit.online_store.config import RedisTierConfig
from featurekit.online_store.config import TieredRedisOnlineStoreConfig as StoreConfig
from featurekit.online_store.connection import connection_settings
from featurekit.online_store.errors import OnlineStoreError, TierNotConfiguredError
from featurekit.online_store.feast_read import FeastReadPath, PerViewRead
from featurekit.online_store.scripts import VACUUM_EXPIRED
from featurekit.online_store.tier import TierClient
from featurekit.online_store.tiers import open_tier
from featurekit.online_store.views import CompiledView, compile_view, view_fingerprint
from featurekit.online_store.writer import PreparedRows, WriteMetrics, prepare, write_prepared, write_prepared_async

__all__ = ["TieredRedisOnlineStore", "TieredRedisOnlineStoreConfig"]

_DELETE_CHUNK = 1_000


class TieredRedisOnlineStoreConfig(StoreConfig):
    """The ``online_store`` model as Feast instantiates it from ``feature_store.yaml``.

    Feast finds the store class in the module of its config class (``get_online_store_from_config``), so the model
    Feast builds is declared here, beside the store; ``config.py`` keeps the model itself (read by the kit's
    settings without importing Feast) and never imports this module.
    """


class TieredRedisOnlineStore(OnlineStore):
    """Feast online store over one Redis deployment per tier (``hot``/``warm``), packed rows, newer-wins writes."""

    def __init__(self) -> None:
        self._tiers: dict[tuple[str, RedisTierConfig], TierClient] = {}
        self._compiled: dict[tuple[Any, ...], CompiledView] = {}
        self._lock = threading.Lock()
        self._feast_reads: FeastReadPath | None = None

    # ---- configuration -------------------------------------------------------------------------------------

    @staticmethod
    def store_config(config: RepoConfig) -> StoreConfig:
        cfg = config.online_store
        if isinstance(cfg, StoreConfig):
            return cfg
        if isinstance(cfg, dict):
            return StoreConfig.model_validate(cfg)
        raise OnlineStoreError(
            f"online_store config is {type(cfg).__name__}, expected TieredRedisOnlineStoreConfig "
            f"(type: featurekit.online_store.store.TieredRedisOnlineStore)"
        )

    def tier(self, store_config: StoreConfig, name: str) -> TierClient:
        """The connection to tier ``name`` (created once per configuration and reused)."""
        cfg = store_config.tiers.get(name)
        if cfg is None:
            raise TierNotConfiguredError(name, list(store_config.tiers))
        key = (name, cfg)
        tier = self._tiers.get(key)
        if tier is None:
            with self._lock:
                tier = self._tiers.get(key)
                if tier is None:
                    tier = open_tier(connection_settings(name, cfg))
                    self._tiers[key] = tier
        return tier

    def compiled(self, config: RepoConfig, feature_view: Any) -> CompiledView:
        """The compiled layout of ``feature_view`` (cached while the view's definition is unchanged)."""
        store_config = self.store_config(config)
        key = (
            config.project,
            view_fingerprint(feature_view),
            (
                store_config.tier_tag,
                store_config.default_tier,
                store_config.bucket_bits,
                store_config.expected_entities,
                tuple((name, tier.cluster) for name, tier in store_config.tiers.items()),  # cluster: key layout
            ),
        )
        view = self._compiled.get(key)
        if view is None:
            view = compile_view(feature_view, config.project, store_config)
            self._compiled[key] = view
        return view

    # ---- writes --------------------------------------------------------------------------------------------

    def write_arrow(
        self,
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write an Arrow table of ``feature_view`` rows; returns the number of input rows handled (written, or
        skipped because Redis already had a newer row, a newer row for the same entity was in the table, or the
        row was already past the view's ttl).

        ``table`` holds the join key column(s), one column per feature, the batch source ``timestamp_field`` and
        optionally its ``created_timestamp_column``. Rows are deduplicated to the newest per entity, then written in
        bounded batches; Redis keeps, per entity, the row with the greatest (event, created) timestamp.
        """
        write = self._write_of(config, feature_view, table)
        if write is None:
            return 0
        view, tier, rows, batch_rows = write
        tally = WriteMetrics(view, progress)
        write_prepared(view, tier, rows, batch_rows=batch_rows, progress=tally.sent, on_batch=tally.batch)
        return tally.finish(table.num_rows)

    def _write_of(
        self, config: RepoConfig, feature_view: FeatureView, table: pa.Table
    ) -> tuple[CompiledView, TierClient, PreparedRows, int] | None:
        """What one write sends: the compiled view, its tier client, the prepared rows and the call size; None for
        an empty table (the view and its tier are still checked, so a bad tier tag fails even then)."""
        view = self.compiled(config, feature_view)
        store_config = self.store_config(config)
        tier = self.tier(store_config, view.tier)
        if table.num_rows == 0:
            return None
        return view, tier, prepare(view, table), store_config.write_batch_rows

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Feast's write entry point: convert protobuf rows to one Arrow table and use :meth:`write_arrow`."""
        if not data:
            return
        view = self.compiled(config, table)
        self.write_arrow(config, table, _proto_rows_to_arrow(view, table, data), progress=progress)

    async def write_arrow_async(
        self,
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """:meth:`write_arrow` with the Redis exchanges awaited on the running event loop (``feast serve``'s push
        and write endpoints): same validation, newest-row dedup, newer-wins batches and metrics. A Cluster tier's
        write runs :meth:`write_arrow` on a worker thread."""
        write = self._write_of(config, feature_view, table)
        if write is None:
            return 0
        view, tier, rows, batch_rows = write
        tally = WriteMetrics(view, progress)
        await write_prepared_async(view, tier, rows, batch_rows=batch_rows, progress=tally.sent, on_batch=tally.batch)
        return tally.finish(table.num_rows)

    async def online_write_batch_async(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Feast's async write entry point (stock provider's ``write_to_online_store_async``/``push_async``):
        protobuf rows as one Arrow table into :meth:`write_arrow_async`."""
        if not data:
            return
        view = self.compiled(config, table)
        await self.write_arrow_async(config, table, _proto_rows_to_arrow(view, table, data), progress=progress)

    # ---- reads ---------------------------------------------------------------------------------------------

    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        """Feast's per-view read: same fetch and decoder as the fast path, values converted to protobuf."""
        read = PerViewRead(self, config, table, entity_keys, requested_features)
        (rows,) = read.tier.fetch([(read.view.keyspace, read.fields, read.buckets)])
        return read.result(rows, self.expiry_cutoff_us(read.view))

    async def online_read_async(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        """:meth:`online_read` with the round trip awaited on the running event loop."""
        read = PerViewRead(self, config, table, entity_keys, requested_features)
        (rows,) = await read.tier.fetch_async([(read.view.keyspace, read.fields, read.buckets)])
        return read.result(rows, self.expiry_cutoff_us(read.view))

    @property
    def async_supported(self) -> SupportedAsyncMethods:
        """Reads and writes are native asyncio: ``feast serve`` awaits them on its loop (its push endpoint uses
        ``push_async`` once writes are declared async)."""
        return SupportedAsyncMethods(read=True, write=True)

    def get_online_features(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: Any,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        """Feast's whole-request read (``FeatureStore.get_online_features``, ``feast serve``): every view in one
        pipelined round trip per Redis server through the fast path's plan and decoder (see ``feast_read.py``).
        Requests for feature-view version metadata go through Feast's generic implementation."""
        if include_feature_view_version_metadata:
            return super().get_online_features(
                config, features, entity_rows, registry, project, full_feature_names, True
            )
        reads = self._feast_reads
        if reads is None:
            reads = self._feast_reads = FeastReadPath(self)
        return reads.get_online_features(config, features, entity_rows, registry, project, full_feature_names)

    async def get_online_features_async(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: Any,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        """:meth:`get_online_features` with the Redis round trips awaited on the running event loop."""
        if include_feature_view_version_metadata:
            return await super().get_online_features_async(
                config, features, entity_rows, registry, project, full_feature_names, True
            )
        reads = self._feast_reads
        if reads is None:
            reads = self._feast_reads = FeastReadPath(self)
        return await reads.get_online_features_async(
            config, features, entity_rows, registry, project, full_feature_names
        )

    @staticmethod
    def expiry_cutoff_us(view: CompiledView, now_us: int | None = None) -> int | None:
        """Rows with an event time before this are past the view's ttl and read as missing."""
        if not view.ttl_us:
            return None
        return (now_us if now_us is not None else time.time_ns() // 1000) - view.ttl_us

    # ---- apply / teardown ----------------------------------------------------------------------------------

    def update(
        self,
        config: RepoConfig,
        tables_to_delete: Sequence[FeatureView],
        tables_to_keep: Sequence[FeatureView],
        entities_to_delete: Sequence[Entity],
        entities_to_keep: Sequence[Entity],
        partial: bool,
    ) -> None:
        """``feast apply``: delete the rows of removed views; check that kept views compile (tier, types)."""
        for fv in tables_to_keep:
            self.compiled(config, fv)
        for fv in tables_to_delete:
            self.delete_view(config, fv)

    def teardown(self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]) -> None:
        """``feast teardown``: delete every row of the given views, then close connections."""
        for fv in tables:
            self.delete_view(config, fv)
        self.close()

    def delete_view(self, config: RepoConfig, feature_view: FeatureView) -> int:
        """Delete all bucket keys of a view: the view's keyspace is enumerable, so no SCAN is needed."""
        view = self.compiled(config, feature_view)
        tier = self.tier(self.store_config(config), view.tier)
        try:
            return tier.delete(view.keyspace.bucket_keys())
        except OnlineStoreError as exc:
            raise OnlineStoreError(f"deleting feature view {view.name!r} from tier {tier.name!r}: {exc}") from exc

    def vacuum(self, config: RepoConfig, feature_view: FeatureView, *, now_us: int | None = None) -> int:
        """Delete rows past the view's ttl from buckets that are still alive, returning how many.

        Reads never serve such rows, and a bucket whose rows are all expired disappears by itself; this reclaims
        the memory of entities that stopped receiving updates while their bucket's neighbours keep it alive. It
        visits the view's own buckets only (no keyspace scan), one Lua call per bucket, so it is safe to run
        periodically next to live traffic."""
        view = self.compiled(config, feature_view)
        if not view.ttl_us:
            return 0
        tier = self.tier(self.store_config(config), view.tier)
        cutoff = max(0, self.expiry_cutoff_us(view, now_us) or 0).to_bytes(8, "big")
        sha = tier.command("SCRIPT", "LOAD", VACUUM_EXPIRED)
        keys = view.keyspace.bucket_keys()
        deleted = 0
        for start in range(0, len(keys), _DELETE_CHUNK):
            replies = tier.pipeline([("EVALSHA", sha, 1, key, cutoff) for key in keys[start : start + _DELETE_CHUNK]])
            for reply in replies:
                if isinstance(reply, Exception):
                    raise OnlineStoreError(f"vacuum of feature view {view.name!r} on tier {tier.name!r}: {reply}")
                deleted += int(reply)
        return deleted

    def close(self) -> _Closed:  # type: ignore[override]  # awaitable like Feast's, and callable plainly
        """Close every connection. The kit calls this plainly; Feast's ``OnlineStore.close`` is a coroutine that
        ``feast serve`` awaits at shutdown, so the return value is awaitable too (it then also closes the asyncio
        connections of the running loop)."""
        with self._lock:
            tiers, self._tiers = list(self._tiers.values()), {}
        for tier in tiers:
            tier.close()
        return _CLOSED


class _Closed:
    """What :meth:`TieredRedisOnlineStore.close` returns: awaiting it closes the running loop's connections."""

    def __await__(self) -> Any:
        close_loop_connections()
        return iter(())


_CLOSED = _Closed()


def _proto_rows_to_arrow(
    view: CompiledView,
    feature_view: FeatureView,
    data: Sequence[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
) -> pa.Table:
    """Feast's protobuf rows as an Arrow table in the shape :meth:`TieredRedisOnlineStore.write_arrow` takes."""
    columns: dict[str, list[Any]] = {name: [] for name in view.join_key_names}
    for name in view.feature_names:
        columns[name] = []
    events: list[datetime] = []
    created: list[datetime | None] = []
    for entity_key, values, event_ts, created_ts in data:
        for k, v in zip(entity_key.join_keys, entity_key.entity_values, strict=False):
            if k in columns:
                columns[k].append(feast_value_type_to_python_type(v))
        for name in view.feature_names:
            proto = values.get(name)
            columns[name].append(feast_value_type_to_python_type(proto) if proto is not None else None)
        events.append(event_ts)
        created.append(created_ts)
    arrays: dict[str, pa.Array] = {}
    key_types = {jk.name: jk.feast_type for jk in view.keyspace.join_keys}
    for name in view.join_key_names:
        arrays[name] = pa.array(columns[name], type=arrow_type(key_types[name]))
    dtypes = {f.name: f.dtype for f in feature_view.features}
    for name in view.feature_names:
        arrays[name] = python_values_to_arrow(columns[name], dtypes[name])
    ts_type = pa.timestamp("us", tz="UTC")
    assert view.timestamp_field is not None
    arrays[view.timestamp_field] = pa.array([_aware(t) for t in events], type=ts_type)
    if view.created_field and any(c is not None for c in created):
        arrays[view.created_field] = pa.array([_aware(c) if c else None for c in created], type=ts_type)
    return pa.table(arrays)


def _aware(ts: datetime) -> datetime:
    from datetime import UTC

    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
