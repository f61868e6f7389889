"""The read plan: what one ``get_online_features`` request shape needs, compiled once from the registry.

Resolving feature references, feature services, projections (aliases, join key maps), entity maps and on-demand
feature views through Feast's registry costs far more than reading Redis. A plan captures the outcome for one
request shape (feature list or service, ``full_feature_names``) and is reused until the registry changes. Feast's
own resolver (``feast.utils._get_online_request_context``) is used to build it, so reference semantics match
``FeatureStore.get_online_features`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featurekit.online_store.errors import FeatureReferenceError
from featurekit.online_store.views import CompiledView


@dataclass
class ViewStep:
    """Read of one feature view: which packed columns to decode and the response names they get."""

    view: CompiledView
    feature_indexes: list[int]
    output_names: list[str]
    entity_columns: list[str]  # request column for each of the view's join keys (keyspace order)
    label: str  # projection name used in full feature names
    json_fix: list[bool] = field(default_factory=list)  # per output: kind needs JSON conversion (bytes, ts, lists)
    encoding_key: tuple[Any, ...] = ()  # views with equal keys share one entity encoding per request

    def __post_init__(self) -> None:
        kinds = [self.view.schema.columns[i].kind for i in self.feature_indexes]
        self.json_fix = [k in ("bytes", "ts", "json") for k in kinds]
        ks = self.view.keyspace
        self.encoding_key = (tuple(self.entity_columns), tuple(j.feast_type for j in ks.join_keys), ks.bucket_bits)


@dataclass
class OdfvStep:
    """An on-demand feature view computed from the fetched values and request data."""

    odfv: Any
    features: list[str]  # requested feature names (short)
    output_names: list[str]
    dtypes: dict[str, Any]
    source_outputs: list[str]  # response names of the source features it declared
    request_fields: list[str]


@dataclass
class ReadPlan:
    """Everything a request shape needs, resolved: steps grouped per tier and the response column order."""

    steps: list[ViewStep]
    odfvs: list[OdfvStep]
    join_keys: set[str]
    entity_name_to_join_key: dict[str, str]
    request_data: set[str]
    requested_names: frozenset[str]
    feature_service: str | None
    full_feature_names: bool
    # (connection, step indexes): views on the same Redis server are fetched in one round trip (set by the reader)
    server_groups: list[tuple[Any, list[int]]] = field(default_factory=list)
    keep_names: frozenset[str] = frozenset()
    registry_version: Any = None  # registry state the plan was compiled from (set by the caching caller)
    entity_types: dict[str, Any] = field(default_factory=dict)  # join key -> Feast ValueType (response protobuf)

    def __post_init__(self) -> None:
        self.keep_names = frozenset(self.requested_names) | frozenset(self.join_keys)


def compile_plan(
    registry: Any,
    project: str,
    features: list[str] | Any,
    full_feature_names: bool,
    compile_view: Any,
) -> ReadPlan:
    """Resolve ``features`` (refs or a ``FeatureService``) against ``registry``; ``compile_view(fv)`` gives the
    store layout of a feature view."""
    from feast import utils as feast_utils
    from feast.errors import FeastObjectNotFoundException, FeatureViewNotFoundException

    if isinstance(features, list):
        _check_refs_exist(features, _registry_views(registry, project))
    try:
        (
            feature_refs,
            requested_odfvs,
            entity_name_to_join_key,
            entity_types,
            join_keys,
            grouped_refs,
            requested_names,
            request_data,
            _entityless,
        ) = feast_utils._get_online_request_context(registry, project, features, full_feature_names)
    except (FeastObjectNotFoundException, FeatureViewNotFoundException) as exc:
        raise FeatureReferenceError(f"unknown feature reference: {exc}") from exc
    except (ValueError, KeyError) as exc:
        raise FeatureReferenceError(f"cannot resolve features {features!r}: {exc}") from exc

    _check_refs_exist(list(feature_refs), _resolved_views(grouped_refs, requested_odfvs))

    steps: list[ViewStep] = []
    for fv, requested in grouped_refs:
        view = compile_view(fv)
        label = fv.projection.name_to_use()
        join_map = fv.projection.join_key_map or {}
        missing = [f for f in requested if f not in view.schema.index]
        if missing:
            raise FeatureReferenceError(f"feature view {fv.name!r} has no feature(s) {missing}")
        steps.append(
            ViewStep(
                view=view,
                feature_indexes=[view.schema.index[f] for f in requested],
                output_names=[f"{label}__{f}" if full_feature_names else f for f in requested],
                entity_columns=[join_map.get(k, k) for k in view.join_key_names],
                label=label,
            )
        )

    odfv_steps: list[OdfvStep] = []
    by_name = {(o.projection.name_alias if o.projection else None) or o.name: o for o in requested_odfvs}
    wanted: dict[str, list[str]] = {}
    for ref in feature_refs:
        view_name, _, feature_name = feast_utils._parse_feature_ref(ref)
        if view_name in by_name:
            wanted.setdefault(view_name, []).append(feature_name)
    for name, feats in wanted.items():
        odfv = by_name[name]
        label = odfv.projection.name_to_use()
        sources: list[str] = []
        for projection in odfv.source_feature_view_projections.values():
            for f in projection.features:
                sources.append(f"{projection.name_to_use()}__{f.name}" if full_feature_names else f.name)
        odfv_steps.append(
            OdfvStep(
                odfv=odfv,
                features=feats,
                output_names=[f"{label}__{f}" if full_feature_names else f for f in feats],
                dtypes={f.name: f.dtype for f in odfv.features},
                source_outputs=sources,
                request_fields=sorted(odfv.get_request_data_schema().keys()),
            )
        )

    return ReadPlan(
        steps=steps,
        odfvs=odfv_steps,
        join_keys=set(join_keys),
        entity_name_to_join_key=dict(entity_name_to_join_key),
        request_data=set(request_data),
        requested_names=frozenset(requested_names),
        feature_service=None if isinstance(features, list) else features.name,
        full_feature_names=full_feature_names,
        entity_types=dict(entity_types),
    )


def _registry_views(registry: Any, project: str) -> dict[str, set[str]]:
    """Feature names of every feature view, stream view and on-demand view in the project."""
    views: dict[str, set[str]] = {}
    for lister in ("list_feature_views", "list_stream_feature_views", "list_on_demand_feature_views"):
        for view in getattr(registry, lister)(project, allow_cache=True):
            views[view.name] = {f.name for f in view.features}
    return views


def _resolved_views(grouped_refs: list[Any], odfvs: list[Any]) -> dict[str, set[str]]:
    views = {fv.projection.name_to_use(): {f.name for f in fv.features} for fv, _ in grouped_refs}
    views.update({o.projection.name_to_use(): {f.name for f in o.features} for o in odfvs})
    return views


def _check_refs_exist(refs: list[str], available: dict[str, set[str]]) -> None:
    """Fail naming the first reference whose view or feature does not exist (Feast may drop it silently)."""
    from feast import utils as feast_utils

    for ref in refs:
        if not isinstance(ref, str) or ":" not in ref:
            raise FeatureReferenceError(f"feature reference {ref!r} is not of the form 'feature_view:feature'")
        view_name, _, feature_name = feast_utils._parse_feature_ref(ref)
        if view_name not in available:
            raise FeatureReferenceError(f"feature reference {ref!r}: no feature view {view_name!r}")
        if feature_name not in available[view_name]:
            raise FeatureReferenceError(
                f"feature reference {ref!r}: feature view {view_name!r} has no feature {feature_name!r}"
            )
