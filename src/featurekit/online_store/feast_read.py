"""Feast's ``get_online_features`` over the store: one pipelined round trip per Redis server, Feast's response.

Feast 0.67 lets an online store answer a whole request (``OnlineStore.get_online_features``, which the provider,
``FeatureStore.get_online_features``, ``feast serve`` and Feast's remote clients all delegate to). Feast's default
implementation calls ``online_read`` once per feature view and converts every value to and from protobuf; here the
request runs through the same plan and read core as :mod:`featurekit.serving` (:mod:`.read`), so all views are
fetched in one round trip per server and decoded column-wise. The result is a :class:`ColumnarOnlineResponse`:
Feast's ``OnlineResponse`` type, whose ``to_dict``/``to_df``/``to_arrow`` hand out the decoded columns directly and
whose protobuf (``.proto``, what ``feast serve`` serializes) is built only when someone asks for it.

Plans are cached per request shape and dropped when the registry's cached proto changes (a new ``version_id`` is
written on every registry commit, and a refresh replaces the cached proto); whether it may have changed is decided
as Feast's own request path decides it (:func:`_registry_version`), without a registry-store access per request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from feast.online_response import OnlineResponse
from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse
from feast.protos.feast.types.Value_pb2 import RepeatedValue
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType

from featurekit.online_store.feast_response import response_proto, status_entries, timestamp_entries
from featurekit.online_store.read import ReadColumns, columnar, group_servers, read_columns, read_columns_async
from featurekit.online_store.read_plan import ReadPlan, compile_plan

if TYPE_CHECKING:
    from featurekit.online_store.store import TieredRedisOnlineStore

_FLOAT_TYPES = (ValueType.FLOAT, ValueType.DOUBLE)
TIMESTAMP_POSTFIX = "__ts"  # Feast's OnlineResponse.to_dict(include_event_timestamps=True) suffix
_PLAN_CACHE_LIMIT = 256


class ColumnarOnlineResponse(OnlineResponse):
    """Feast's ``OnlineResponse`` over decoded columns.

    ``to_dict`` (and so ``to_df``/``to_arrow``) returns the values as decoded, with the same Python types Feast's
    protobuf round trip gives (a NaN float is a missing value there, so it is ``None`` here too); ``proto`` is built
    on first access as :mod:`.feast_response` wire bytes equal to Feast's own value conversion, so code that reads
    the protobuf (``feast serve``, ``to_tensor``) sees exactly what the stock response would hold."""

    def __init__(self, read: ReadColumns, value_types: dict[str, ValueType]) -> None:
        # Deliberately not calling OnlineResponse.__init__: it needs a finished protobuf.
        self._read = read
        self._value_types = value_types
        self._feature_types: dict[str, ValueType] = {}
        self._proto: GetOnlineFeaturesResponse | None = None

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, Any]:
        out: dict[str, list[Any]] = {}
        r = self._read
        seconds: dict[int, list[int]] = {}
        for name, values, decoded, fix in zip(r.names, r.values, r.decoded, r.json_fix, strict=True):
            if fix and self._value_types.get(name) in _FLOAT_TYPES:  # flagged: the view's decoder saw non-finite
                out[name] = [None if v != v else v for v in values]
            else:
                out[name] = list(values)
            if include_event_timestamps:
                key = id(decoded)
                if key not in seconds:
                    seconds[key] = (
                        [0] * len(values) if decoded is None else [u // 1_000_000 if u else 0 for u in decoded.event_us]
                    )
                out[name + TIMESTAMP_POSTFIX] = list(seconds[key])
        return out

    @property
    def proto(self) -> GetOnlineFeaturesResponse:  # type: ignore[override]  # Feast's is a plain attribute
        if self._proto is None:
            self._proto = self._build_proto()
        return self._proto

    def _build_proto(self) -> GetOnlineFeaturesResponse:
        r = self._read
        row_info: dict[int, tuple[bytes, bytes]] = {}
        per_column = []
        for values, decoded in zip(r.values, r.decoded, strict=True):
            key = id(decoded)
            info = row_info.get(key)
            if info is None:
                n = len(values)
                if decoded is None:  # entity and request columns: present, no event time
                    info = (status_entries(None, n), timestamp_entries(None, n))
                else:
                    info = (status_entries(decoded.present, n), timestamp_entries(decoded.event_us, n))
                row_info[key] = info
            per_column.append(info)
        types = self._value_types
        return response_proto(r.names, r.values, [types.get(n, ValueType.UNKNOWN) for n in r.names], per_column)


def value_type_of(feast_type: str) -> ValueType:
    """Feast ``ValueType`` of a Feast type name as the row format records it (``Float32``, ``Array(Int64)``)."""
    if feast_type.startswith("Array(") and feast_type.endswith(")"):
        return ValueType[value_type_of(feast_type[6:-1]).name + "_LIST"]
    from feast.types import PRIMITIVE_FEAST_TYPES_TO_VALUE_TYPES

    key = {"Float32": "FLOAT32", "Float64": "FLOAT64", "UnixTimestamp": "UNIX_TIMESTAMP"}.get(
        feast_type, feast_type.upper()
    )
    return ValueType[PRIMITIVE_FEAST_TYPES_TO_VALUE_TYPES.get(key, "UNKNOWN")]


class FeastReadPath:
    """``OnlineStore.get_online_features`` for :class:`~featurekit.online_store.store.TieredRedisOnlineStore`."""

    def __init__(self, store: TieredRedisOnlineStore) -> None:
        self._store = store
        self._plans: dict[tuple[Any, ...], tuple[ReadPlan, dict[str, ValueType]]] = {}
        self._lock = threading.Lock()

    def get_online_features(
        self,
        config: Any,
        features: list[str] | Any,
        entity_rows: Any,
        registry: Any,
        project: str,
        full_feature_names: bool = False,
    ) -> ColumnarOnlineResponse:
        plan, value_types = self.plan(config, registry, project, features, full_feature_names)
        if isinstance(entity_rows, Mapping):
            entity_rows = {name: _native(values) for name, values in entity_rows.items()}
        columns, n = columnar(entity_rows, plan)
        return ColumnarOnlineResponse(read_columns(plan, columns, n), value_types)

    async def get_online_features_async(
        self,
        config: Any,
        features: list[str] | Any,
        entity_rows: Any,
        registry: Any,
        project: str,
        full_feature_names: bool = False,
    ) -> ColumnarOnlineResponse:
        plan, value_types = self.plan(config, registry, project, features, full_feature_names)
        if isinstance(entity_rows, Mapping):
            entity_rows = {name: _native(values) for name, values in entity_rows.items()}
        columns, n = columnar(entity_rows, plan)
        return ColumnarOnlineResponse(await read_columns_async(plan, columns, n), value_types)

    def plan(
        self, config: Any, registry: Any, project: str, features: list[str] | Any, full_feature_names: bool
    ) -> tuple[ReadPlan, dict[str, ValueType]]:
        """The compiled plan for a request shape and the Feast value type of each output column."""
        version = _registry_version(registry, project)
        shape = tuple(features) if isinstance(features, list | tuple) else ("__service__", features.name)
        key = (id(registry), project, shape, full_feature_names)
        cached = self._plans.get(key) if version is not None else None
        if cached is not None and cached[0].registry_version == version:
            return cached[0], cached[1]
        store = self._store
        store_config = store.store_config(config)
        feats = list(features) if isinstance(features, list | tuple) else features
        plan = compile_plan(registry, project, feats, full_feature_names, lambda fv: store.compiled(config, fv))
        group_servers(plan, lambda tier: store.tier(store_config, tier))
        plan.registry_version = version
        value_types: dict[str, ValueType] = dict(plan.entity_types)  # as Feast converts entity values
        for step in plan.steps:
            for index, name in zip(step.feature_indexes, step.output_names, strict=True):
                value_types[name] = value_type_of(step.view.schema.columns[index].feast_type)
        for odfv_step in plan.odfvs:
            for feature, name in zip(odfv_step.features, odfv_step.output_names, strict=True):
                dtype = odfv_step.dtypes.get(feature)
                value_types[name] = dtype.to_value_type() if dtype is not None else ValueType.UNKNOWN
        if version is not None:
            with self._lock:
                if len(self._plans) >= _PLAN_CACHE_LIMIT:
                    self._plans.clear()
                self._plans[key] = (plan, value_types)
        return plan, value_types


def _native(values: Any) -> Any:
    """Entity values as Python values: Feast's clients may send ``RepeatedValue`` or ``Value`` protobufs."""
    if isinstance(values, RepeatedValue):
        values = values.val
    if len(values) and isinstance(values[0], ValueProto):
        return [feast_value_type_to_python_type(v) for v in values]
    return values


def _registry_version(registry: Any, project: str) -> tuple[Any, ...] | None:
    """A cheap token that changes whenever the registry's cached content may have changed (``None``: cannot tell,
    so plans are not cached).

    While the registry's cache is valid (``is_cache_valid()``: loaded and within ``cache_ttl_seconds``) the token
    is read from the cached proto without touching the registry store: the same test Feast 0.67's own request path
    uses for its feature-resolution cache (``feast.utils._get_cached_request_context``), so a registry change
    reaches a plan exactly when it reaches stock Feast's requests: on ``refresh_registry()``, ``feast serve``'s
    periodic refresh, or ttl expiry. An invalid (expired or unloaded) cache is refreshed first, as Feast's resolver
    would on that request. Registries without that test are asked on every request (``allow_cache=True``)."""
    is_valid = getattr(registry, "is_cache_valid", None)
    if not callable(is_valid) or not is_valid():
        registry.list_project_metadata(project, allow_cache=True)
    proto = getattr(registry, "cached_registry_proto", None)
    if proto is None:
        return None
    created = getattr(registry, "cached_registry_proto_created", None)
    return (id(proto), proto.version_id, proto.last_updated.seconds, proto.last_updated.nanos, created)


class PerViewRead:
    """Feast's per-view ``online_read`` contract: entity key protobufs in, ``(event time, {feature: Value})`` out,
    through the same keyspace encoding and row decoder as every other read."""

    def __init__(
        self,
        store: TieredRedisOnlineStore,
        config: Any,
        table: Any,
        entity_keys: list[Any],
        requested_features: list[str] | None,
    ) -> None:
        from featurekit.online_store.errors import OnlineStoreError

        self.table = table
        self.view = view = store.compiled(config, table)
        self.tier = store.tier(store.store_config(config), view.tier)
        self.names = names = requested_features or view.feature_names
        unknown = [n for n in names if n not in view.schema.index]
        if unknown:
            raise OnlineStoreError(f"feature view {view.name!r} has no feature(s) {unknown}")
        self.fields: list[bytes] = []
        self.buckets: list[int] = []
        order = view.join_key_names
        for ek in entity_keys:
            by_name = {
                k: feast_value_type_to_python_type(v) for k, v in zip(ek.join_keys, ek.entity_values, strict=False)
            }
            missing = [k for k in order if k not in by_name]
            if missing:
                raise OnlineStoreError(f"feature view {view.name!r}: entity key is missing join key(s) {missing}")
            f, b = view.keyspace.encode_values([by_name[k] for k in order])
            self.fields.append(f)
            self.buckets.append(b)

    def result(self, rows: list[Any], expire_before_us: int | None) -> list[tuple[Any, dict[str, Any] | None]]:
        from featurekit.metrics import ONLINE_ROW_ERRORS_TOTAL
        from featurekit.online_store.row_decode import decode_rows
        from featurekit.online_store.row_format import us_to_datetime

        view, names = self.view, self.names
        wanted = [view.schema.index[n] for n in names]
        decoded = decode_rows(view.schema, rows, wanted, expire_before_us=expire_before_us)
        if decoded.errors:
            ONLINE_ROW_ERRORS_TOTAL.labels(view.name).inc(len(decoded.errors))
        feature_types = {f.name: f.dtype.to_value_type() for f in self.table.features}
        protos_by_feature = [
            python_values_to_proto_values(col, feature_types[name])
            for name, col in zip(names, decoded.columns, strict=False)
        ]
        out: list[tuple[Any, dict[str, Any] | None]] = []
        for i in range(len(rows)):
            if not decoded.present[i]:
                out.append((None, None))
                continue
            values = {
                name: protos_by_feature[c][i] if decoded.columns[c][i] is not None else ValueProto()
                for c, name in enumerate(names)
            }
            ev = decoded.event_us[i]
            out.append((us_to_datetime(ev) if ev is not None else None, values))
        return out
