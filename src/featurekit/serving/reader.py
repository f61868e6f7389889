"""``OnlineFeatureReader``: the fast read path over the tiered Redis online store.

Per request it does only what the data requires (see :mod:`featurekit.online_store.read`, the read core it shares
with Feast's own ``get_online_features`` over the store): encode the entity keys, one pre-packed pipeline per Redis
server, column-wise numpy decoding, Python lists in Feast's result shape. Everything that depends only on the
request *shape* (feature references, services, projections, join keys, on-demand views) lives in a
:class:`~featurekit.online_store.read_plan.ReadPlan` compiled once and dropped when the registry changes; this class
adds the registry watch, the plan cache and the serving result (JSON, ages, errors).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from featurekit.metrics import SERVING_PLAN_REFRESH_TOTAL
from featurekit.online_store.read import ReadColumns, columnar, group_servers, read_columns, read_columns_async
from featurekit.online_store.read_plan import ReadPlan, compile_plan
from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.serving.result import ColumnMeta, OnlineFeaturesResult

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
        key = _plan_key(features if isinstance(features, list | tuple) else features.name, full_feature_names)
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
            group_servers(plan, lambda tier: self.store.tier(self.store_config, tier))
            with self._lock:
                self._plans[key] = plan
        return plan

    def cached_plan(self, features: list[str] | str, full_feature_names: bool = False) -> ReadPlan | None:
        """The plan for ``features`` (references, or a feature service's name) if already compiled, else ``None``.
        Never touches the registry, so the feature server can call it on its event loop (a registry read may be a
        file or S3 round trip)."""
        return self._plans.get(_plan_key(features, full_feature_names))

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
        columns, n = columnar(entity_rows, plan)
        return self._read(plan, columns, n, include_event_timestamps)

    def _read(
        self, plan: ReadPlan, columns: dict[str, list[Any]], n: int, include_event_timestamps: bool
    ) -> OnlineFeaturesResult:
        return self._result(read_columns(plan, columns, n), include_event_timestamps)

    def read_planned(self, plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> OnlineFeaturesResult:
        """:meth:`get_online_features` for a request already planned (:meth:`plan`) and put in columns
        (:func:`~featurekit.online_store.read.columnar`), as the feature server does before choosing where to read."""
        return self._read(plan, columns, n, False)

    async def read_planned_async(self, plan: ReadPlan, columns: dict[str, list[Any]], n: int) -> OnlineFeaturesResult:
        """:meth:`read_planned` with the Redis round trips awaited on the running event loop (standalone tiers)."""
        return self._result(await read_columns_async(plan, columns, n), False)

    def _result(self, read: ReadColumns, include_event_timestamps: bool) -> OnlineFeaturesResult:
        metas: list[ColumnMeta] = []
        by_view: dict[int, ColumnMeta] = {}
        for decoded, view in zip(read.decoded, read.views, strict=True):
            if decoded is None:
                metas.append(_ENTITY_META)
                continue
            meta = by_view.get(id(decoded))
            if meta is None:
                meta = by_view[id(decoded)] = ColumnMeta(
                    present=decoded.present, event_us=decoded.event_us, invalid=decoded.errors, view=view
                )
            metas.append(meta)
        return OnlineFeaturesResult(read.names, read.values, metas, include_event_timestamps, read.json_fix)

    def close(self) -> None:
        self.store.close()


def _plan_key(features: list[str] | tuple[str, ...] | str, full_feature_names: bool) -> tuple[Any, ...]:
    """Plan cache key: the feature references, or a feature service's name."""
    return (tuple(features) if isinstance(features, list | tuple) else ("__service__", features), full_feature_names)
