"""``OnlineFeatureReader``: the fast read path over the tiered Redis online store.

Per request it does only what the data requires: encode the entity keys (vectorized for integer keys), send one
pre-packed pipeline per Redis server (all feature views of all tiers living on that server in one round trip),
decode the packed rows column-wise with numpy, and assemble Python lists in Feast's result shape. Everything that
depends only on the request *shape* (feature references, services, projections, join keys, on-demand views) lives in
a :class:`~featurekit.serving.plan.ReadPlan` compiled once and dropped when the registry changes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurekit.observability.metrics import ONLINE_ROW_ERRORS_TOTAL, SERVING_PLAN_REFRESH_TOTAL
from featurekit.online_store.connection import Tier
from featurekit.online_store.errors import SchemaMismatchError
from featurekit.online_store.fetch import fetch_packed, fetch_rows, packed_hgets, packed_hgets_int
from featurekit.online_store.keyspace import ViewKeyspace
from featurekit.online_store.row_format import decode_rows
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.serving.errors import EntityRowsError
from featurekit.serving.plan import OdfvStep, ReadPlan, ViewStep, compile_plan
from featurekit.serving.result import ColumnMeta, OnlineFeaturesResult

_VECTORIZE_FROM = 16  # below this many rows, per-row Python encoding is cheaper than numpy call overhead
_ENTITY_META = ColumnMeta(present=None, event_us=None)


class OnlineFeatureReader:
    """Reads online features for a Feast project straight from the featurekit store.

    ``repo_config`` is the project's ``RepoConfig`` (its ``online_store`` must be the featurekit store);
    ``registry`` a Feast registry object (built from the config when omitted). The plan cache is checked against
    the registry every ``refresh_interval_s`` (default: the registry's cache ttl, at least 1 s); with
    ``auto_refresh=False`` the owner calls :meth:`refresh_if_changed` itself (the feature server does so from a
    background thread so requests never wait for the registry).
    """

    def __init__(
        self,
        repo_config: Any,
        registry: Any = None,
        *,
        store: TieredRedisOnlineStore | None = None,
        refresh_interval_s: float | None = None,
        auto_refresh: bool = True,
    ) -> None:
        self.config = repo_config
        self.project: str = repo_config.project
        if registry is None:
            from feast import FeatureStore

            registry = FeatureStore(config=repo_config).registry
        self.registry = registry
        self.store = store or TieredRedisOnlineStore()
        self.store_config = self.store.store_config(repo_config)
        ttl = getattr(getattr(repo_config, "registry", None), "cache_ttl_seconds", None)
        self.refresh_interval_s = refresh_interval_s if refresh_interval_s is not None else max(1.0, float(ttl or 5))
        self.auto_refresh = auto_refresh
        self._plans: dict[tuple[Any, ...], ReadPlan] = {}
        self._lock = threading.Lock()
        self._fingerprint = self._registry_fingerprint()
        self._next_check = time.monotonic() + self.refresh_interval_s

    @classmethod
    def from_feature_store(cls, feature_store: Any, **kwargs: Any) -> OnlineFeatureReader:
        """A reader sharing a ``feast.FeatureStore``'s config and registry."""
        return cls(feature_store.config, feature_store.registry, **kwargs)

    # ---- registry / plans ----------------------------------------------------------------------------------

    def _registry_fingerprint(self) -> bytes:
        proto = self.registry.proto()
        return hashlib.blake2b(proto.SerializeToString(deterministic=True), digest_size=16).digest()

    def refresh_if_changed(self) -> bool:
        """Reload the registry; drop compiled plans if it changed. Returns whether it changed."""
        self._next_check = time.monotonic() + self.refresh_interval_s
        self.registry.refresh(self.project)
        fingerprint = self._registry_fingerprint()
        if fingerprint == self._fingerprint:
            return False
        with self._lock:
            self._fingerprint = fingerprint
            self._plans = {}
        SERVING_PLAN_REFRESH_TOTAL.inc()
        return True

    def plan(self, features: list[str] | Any, full_feature_names: bool = False) -> ReadPlan:
        """The compiled plan for a request shape (compiled on first use)."""
        key = (
            tuple(features) if isinstance(features, list | tuple) else ("__service__", features.name),
            full_feature_names,
        )
        plan = self._plans.get(key)
        if plan is None:
            feats = list(features) if isinstance(features, list | tuple) else features
            plan = compile_plan(
                self.registry,
                self.project,
                feats,
                full_feature_names,
                lambda fv: self.store.compiled(self.config, fv),
            )
            groups: dict[tuple[Any, ...], tuple[Tier, list[int]]] = {}
            for index, step in enumerate(plan.steps):
                tier = self.store.tier(self.store_config, step.view.tier)
                st = tier.settings
                server = (st.host, st.port, st.db, st.tls, st.username, st.cluster)
                groups.setdefault(server, (tier, []))[1].append(index)
            plan.server_groups = list(groups.values())
            with self._lock:
                self._plans[key] = plan
        return plan

    def feature_service(self, name: str) -> Any:
        """A feature service by name (from the registry cache), or a clear error."""
        from feast.errors import FeatureServiceNotFoundException

        from featurekit.serving.errors import FeatureReferenceError

        try:
            return self.registry.get_feature_service(name, self.project, allow_cache=True)
        except FeatureServiceNotFoundException:
            raise FeatureReferenceError(f"unknown feature service {name!r} in project {self.project!r}") from None

    # ---- reads ---------------------------------------------------------------------------------------------

    def get_online_features(
        self,
        features: list[str] | Any,
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        *,
        full_feature_names: bool = False,
        include_event_timestamps: bool = False,
    ) -> OnlineFeaturesResult:
        """Feature values for ``entity_rows`` (a list of dicts, or a dict of columns as Feast's server takes).

        ``features`` is a list of ``"view:feature"`` references or a ``FeatureService``. Missing entities give
        ``None`` values; an unknown reference, a missing join key / request-data column or a key of the wrong type
        raises an error naming it. ``include_event_timestamps`` adds Feast's ``<feature>__ts`` columns to
        ``to_dict()``; :meth:`OnlineFeaturesResult.ages_seconds` gives per-view row ages.
        """
        if self.auto_refresh and time.monotonic() >= self._next_check:
            self.refresh_if_changed()
        plan = self.plan(features, full_feature_names)
        columns, n = _columnar(entity_rows, plan)
        return self._read(plan, columns, n, include_event_timestamps)

    def _read(
        self, plan: ReadPlan, columns: dict[str, list[Any]], n: int, include_event_timestamps: bool
    ) -> OnlineFeaturesResult:
        names: list[str] = []
        values: list[list[Any]] = []
        metas: list[ColumnMeta] = []
        json_fix: list[bool] = []
        for name, col in columns.items():
            if name in plan.join_keys or name in plan.request_data:
                names.append(name)
                values.append(col)
                metas.append(_ENTITY_META)
                json_fix.append(name in plan.request_data)

        for step, decoded in zip(plan.steps, self._fetch_and_decode(plan, columns, n), strict=True):
            meta = ColumnMeta(
                present=decoded.present, event_us=decoded.event_us, invalid=decoded.errors, view=step.view.name
            )
            if decoded.errors:
                ONLINE_ROW_ERRORS_TOTAL.labels(step.view.name).inc(len(decoded.errors))
            names += step.output_names
            values += decoded.columns
            metas += [meta] * len(step.output_names)
            if decoded.nonfinite:
                json_fix += [fix or pos in decoded.nonfinite for pos, fix in enumerate(step.json_fix)]
            else:
                json_fix += step.json_fix

        if plan.odfvs:
            available = dict(zip(names, values, strict=True))
            for odfv_step in plan.odfvs:
                for out_name, col in zip(odfv_step.output_names, _transform(odfv_step, available, plan), strict=True):
                    names.append(out_name)
                    values.append(col)
                    metas.append(_ENTITY_META)
                    json_fix.append(True)

        keep_names = plan.keep_names
        keep = [i for i, name in enumerate(names) if name in keep_names]
        if len(keep) != len(names):
            names = [names[i] for i in keep]
            values = [values[i] for i in keep]
            metas = [metas[i] for i in keep]
            json_fix = [json_fix[i] for i in keep]
        return OnlineFeaturesResult(names, values, metas, include_event_timestamps, json_fix)

    def _fetch_and_decode(self, plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> list[Any]:
        """Decoded rows per plan step (in step order): one round trip per Redis server."""
        encoded: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        steps = plan.steps
        keys_of: list[Any] = []
        for step in steps:
            keys = encoded.get(step.encoding_key)
            if keys is None:
                keys = encoded[step.encoding_key] = _encode_entities(step, columns, n)
            keys_of.append(keys)
        decoded: list[Any] = [None] * len(steps)
        now_us = time.time_ns() // 1000
        for tier, indexes in plan.server_groups:
            if tier.cluster:
                replies = fetch_rows(
                    tier,
                    [
                        (steps[i].view.keyspace, _fields(steps[i].view.keyspace, *keys_of[i]), _buckets(keys_of[i][1]))
                        for i in indexes
                    ],
                )
            else:
                replies = fetch_packed(tier, [(_packed(steps[i].view.keyspace, *keys_of[i]), n) for i in indexes])
            for i, rows in zip(indexes, replies, strict=True):
                view = steps[i].view
                cutoff = now_us - view.ttl_us if view.ttl_us else None
                decoded[i] = decode_rows(view.schema, rows, steps[i].feature_indexes, expire_before_us=cutoff)
        return decoded

    def close(self) -> None:
        self.store.close()


def _columnar(
    entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]], plan: ReadPlan
) -> tuple[dict[str, list[Any]], int]:
    """Entity rows as columns (entity names mapped to join keys), with lengths and required columns checked."""
    if isinstance(entity_rows, Mapping):
        raw = {k: list(v) for k, v in entity_rows.items()}
    else:
        rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
        if not rows:
            raise EntityRowsError("entity_rows is empty")
        keys = list(rows[0])
        raw = {}
        for k in keys:
            try:
                raw[k] = [row[k] for row in rows]
            except KeyError:
                bad = next(i for i, row in enumerate(rows) if k not in row)
                raise EntityRowsError(f"entity_rows[{bad}] has no column {k!r}") from None
        if set(map(len, rows)) != {len(keys)}:
            bad = next(i for i, row in enumerate(rows) if len(row) != len(keys))
            raise EntityRowsError(f"entity_rows[{bad}] has columns {sorted(rows[bad])}, expected {sorted(keys)}")
    columns: dict[str, list[Any]] = {}
    for name, col in raw.items():
        if name not in plan.join_keys and name not in plan.request_data and name in plan.entity_name_to_join_key:
            name = plan.entity_name_to_join_key[name]
        columns[name] = col
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise EntityRowsError(f"entity columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
    n = lengths.pop() if lengths else 0
    for step in plan.steps:
        for col in step.entity_columns:
            if col not in columns:
                raise EntityRowsError(
                    f"entity rows have no join key column {col!r}, needed by feature view {step.view.name!r} "
                    f"(got columns: {sorted(columns)})"
                )
    missing_request = sorted(plan.request_data - set(columns))
    if missing_request:
        raise EntityRowsError(f"entity rows lack request data field(s) {missing_request} needed by on-demand views")
    return columns, n


def _encode_entities(step: ViewStep, columns: dict[str, list[Any]], n: int) -> tuple[Any, Any]:
    """(fields, buckets) or, for integer keys in larger batches, (int64 array, bucket array)."""
    ks = step.view.keyspace
    key_cols = [columns[c] for c in step.entity_columns]
    if ks.int_key and n >= _VECTORIZE_FROM:
        try:
            ints = ks.int_array(key_cols[0])  # every id checked against the key's type before a key is built
        except SchemaMismatchError as exc:
            raise EntityRowsError(str(exc)) from exc
        return ints, ks.int_buckets(ints)
    fields: list[bytes] = []
    buckets: list[int] = []
    try:
        for vals in zip(*key_cols, strict=True):
            f, b = ks.encode_values(vals)
            fields.append(f)
            buckets.append(b)
    except SchemaMismatchError as exc:
        raise EntityRowsError(str(exc)) from exc
    return fields, buckets


def _packed(ks: ViewKeyspace, a: Any, b: Any) -> bytes:
    if isinstance(a, np.ndarray):
        return packed_hgets_int(ks, a, b)
    return packed_hgets(ks, a, b)


def _fields(ks: ViewKeyspace, a: Any, b: Any) -> list[bytes]:
    if isinstance(a, np.ndarray):
        return [ks.encode_values([int(v)])[0] for v in a.tolist()]
    return a


def _buckets(b: Any) -> list[int]:
    return b.tolist() if isinstance(b, np.ndarray) else b


def _transform(step: OdfvStep, available: dict[str, list[Any]], plan: ReadPlan) -> list[list[Any]]:
    """Compute an on-demand feature view from the response columns, as Feast does (python or pandas mode)."""
    odfv = step.odfv
    inputs = {
        name: col
        for name, col in available.items()
        if name in plan.join_keys or name in step.request_fields or name in step.source_outputs
    }
    if odfv.mode == "python":
        out = odfv.transform_dict(inputs)
        getter = out.get
    elif odfv.mode in ("pandas", "substrait"):
        import pyarrow as pa

        table = odfv.transform_arrow(pa.table(inputs), plan.full_feature_names)

        def getter(name: str) -> Any:
            return table.column(name).to_pylist() if name in table.column_names else None
    else:
        raise ValueError(f"on-demand feature view {odfv.name!r} has unsupported mode {odfv.mode!r}")
    n = len(next(iter(available.values()))) if available else 0
    cols = []
    for feature, out_name in zip(step.features, step.output_names, strict=True):
        col = getter(out_name)
        if col is None:
            col = getter(feature)
        if col is None:
            raise ValueError(f"on-demand feature view {odfv.name!r} did not produce feature {feature!r}")
        if not isinstance(col, list):
            col = list(col) if hasattr(col, "__iter__") and not isinstance(col, str | bytes) else [col] * n
        cols.append(_coerce(col, step.dtypes.get(feature)))
    return cols


def _coerce(values: list[Any], dtype: Any) -> list[Any]:
    """Round-trip values through the declared Feast type the way Feast's protobuf conversion does."""
    kind = str(dtype) if dtype is not None else ""
    if kind == "Float32":
        return [None if v is None else float(np.float32(v)) for v in values]
    if kind == "Float64":
        return [None if v is None else float(v) for v in values]
    if kind in ("Int64", "Int32"):
        return [None if v is None else int(v) for v in values]
    if kind == "Bool":
        return [None if v is None else bool(v) for v in values]
    if kind == "String":
        return [None if v is None else str(v) for v in values]
    return values
