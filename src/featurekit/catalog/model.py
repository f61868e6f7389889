"""The catalog's content: one entry per feature, gathered from the feature repo's Feast objects.

Built from the repository (not a registry) so that CI can publish the catalog of a pull request before it is
applied anywhere; the same code documents main after merge.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from featurekit.catalog.lineage import view_tables
from featurekit.repo.loader import LoadedRepo
from featurekit.tags import ON_DEMAND_SCHEDULE


@dataclass(frozen=True)
class FeatureEntry:
    name: str
    view: str
    kind: str  # batch | stream | on_demand
    dtype: str
    description: str
    view_description: str
    owner: str
    tier: str
    schedule: str
    freshness_slo: str
    ttl: str
    entities: list[str]
    source_tables: list[str]
    sources: list[str]
    feature_services: list[str]
    defined_in: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    description: str
    owner: str
    features: list[str]
    tags: dict[str, str]


@dataclass(frozen=True)
class Catalog:
    project: str
    features: list[FeatureEntry]
    services: list[ServiceEntry]

    @property
    def views(self) -> list[str]:
        return sorted({f.view for f in self.features})


def build_model(repo: LoadedRepo, project: str) -> Catalog:
    """Every feature of every batch, stream and on-demand view, with lineage and the services that read it."""
    contents = repo.contents
    used_by: dict[tuple[str, str], list[str]] = defaultdict(list)
    services = []
    for service in sorted(contents.feature_services, key=lambda s: s.name):
        refs = []
        for projection in service.feature_view_projections:
            for feature in projection.features:
                used_by[(projection.name, feature.name)].append(service.name)
                refs.append(f"{projection.name}:{feature.name}")
        services.append(ServiceEntry(service.name, service.description, service.owner, refs, dict(service.tags)))

    tables: dict[str, list[str]] = {}
    features: list[FeatureEntry] = []
    stored = [("batch", v) for v in contents.feature_views] + [("stream", v) for v in contents.stream_feature_views]
    for kind, view in sorted(stored, key=lambda kv: kv[1].name):
        tables[view.name] = view_tables(repo.root, view.name)
        features += _entries(repo, view, kind, tables[view.name], _stored_sources(view), used_by)
    for view in sorted(contents.on_demand_feature_views, key=lambda v: v.name):
        inputs = sorted(view.source_feature_view_projections)
        requests = sorted(view.source_request_sources)
        inherited = sorted({t for name in inputs for t in tables.get(name, [])})
        sources = [f"feature view {n}" for n in inputs] + [f"request {n}" for n in requests]
        features += _entries(repo, view, "on_demand", inherited, sources, used_by)
    return Catalog(project=project, features=features, services=services)


def _entries(
    repo: LoadedRepo,
    view: Any,
    kind: str,
    tables: list[str],
    sources: list[str],
    used_by: dict[tuple[str, str], list[str]],
) -> list[FeatureEntry]:
    tags = dict(view.tags)
    ttl = getattr(view, "ttl", None)
    join_keys = {c.name for c in getattr(view, "entity_columns", []) or []}
    return [
        FeatureEntry(
            name=f.name,
            view=view.name,
            kind=kind,
            dtype=str(f.dtype),
            description=f.description or "",
            view_description=view.description or "",
            owner=view.owner or "",
            tier=tags.get("tier", ""),
            schedule=tags.get("schedule", ON_DEMAND_SCHEDULE if kind == "on_demand" else ""),
            freshness_slo=tags.get("freshness_slo", ""),
            ttl=str(ttl) if ttl else "",
            entities=sorted(getattr(view, "entities", []) or []),
            source_tables=tables,
            sources=sources,
            feature_services=sorted(used_by.get((view.name, f.name), [])),
            defined_in=repo.origin(view),
            tags=tags,
        )
        for f in view.features
        if f.name not in join_keys
    ]


def _stored_sources(view: Any) -> list[str]:
    out = []
    stream = getattr(view, "stream_source", None)
    if stream is not None:
        topic = getattr(stream, "kafka_options", None)
        out.append(f"kafka topic {topic.topic}" if topic is not None else f"stream {stream.name}")
    batch = getattr(view, "batch_source", None)
    if batch is not None:
        out.append(f"offline {batch.name}")
    return out
