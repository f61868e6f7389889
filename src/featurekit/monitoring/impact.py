"""Blast radius: which views, feature services and owners depend on a warehouse table or a feature view.

Lineage is the catalog's: a view's tables are parsed from its SQL (:mod:`featurekit.catalog.lineage`), on-demand
views depend on the views they read, services on the views they project. The objects are plain Feast objects, so the
same function serves ``featurekit impact`` (feature repo) and the DAG's monitor task (registry, as workers never
import the repo).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from featurekit.catalog.lineage import view_tables
from featurekit.errors import FeaturekitError


@dataclass(frozen=True)
class BlastRadius:
    target: str
    tables: list[str]  # upstream warehouse tables of the affected stored views
    views: dict[str, str]  # affected view -> owner (stored and on-demand)
    services: dict[str, str]  # affected feature service -> owner
    owners: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"upstream tables: {', '.join(self.tables) or '-'}; views: {', '.join(self.views) or '-'}; "
            f"feature services: {', '.join(self.services) or 'none'}; owners: {', '.join(self.owners) or '-'}"
        )


@dataclass(frozen=True)
class Lineage:
    """Feast objects plus their SQL tables: everything the blast radius needs."""

    stored: list[Any]  # batch and stream feature views
    on_demand: list[Any]
    services: list[Any]
    tables: dict[str, list[str]]  # stored view -> tables

    @classmethod
    def of(cls, feature_repo: Path, stored: list[Any], on_demand: list[Any], services: list[Any]) -> Lineage:
        return cls(stored, on_demand, services, {v.name: view_tables(feature_repo, v.name) for v in stored})

    @classmethod
    def from_repo(cls, repo: Any) -> Lineage:
        c = repo.contents
        stored = [*c.feature_views, *c.stream_feature_views]
        return cls.of(repo.root, stored, list(c.on_demand_feature_views), list(c.feature_services))

    @classmethod
    def from_registry(cls, settings: Any, store: Any) -> Lineage:
        stored = [*store.list_feature_views(), *store.list_stream_feature_views()]
        return cls.of(
            settings.feature_repo, stored, store.list_on_demand_feature_views(), store.list_feature_services()
        )


class UnknownTargetError(FeaturekitError, LookupError):
    """``featurekit impact`` was given a name that is neither a feature view nor a table one reads."""


def _matches(table: str, target: str) -> bool:
    target = target.lower()
    return table.lower() == target or table.lower().rsplit(".", 1)[-1] == target


def blast_radius(lineage: Lineage, target: str) -> BlastRadius:
    """Everything downstream of ``target``: a warehouse table (``users`` or ``db.users``) or a feature view name.

    Raises :class:`UnknownTargetError` naming the known tables and views when ``target`` is neither.
    """
    names = {v.name: v for v in [*lineage.stored, *lineage.on_demand]}
    if target in names:
        hit = {target}
    else:
        hit = {name for name, tables in lineage.tables.items() if any(_matches(t, target) for t in tables)}
        if not hit:
            known = sorted({t for ts in lineage.tables.values() for t in ts})
            raise UnknownTargetError(
                f"{target!r} is neither a feature view ({sorted(names)}) nor a table they read ({known})"
            )
    for view in lineage.on_demand:  # on-demand views read stored views (one level, as Feast allows)
        if set(view.source_feature_view_projections) & hit:
            hit.add(view.name)
    services = {s.name: s.owner or "" for s in lineage.services if {p.name for p in s.feature_view_projections} & hit}
    views = {name: names[name].owner or "" for name in sorted(hit)}
    tables = sorted({t for name in hit for t in lineage.tables.get(name, [])})
    owners = sorted({o for o in [*views.values(), *services.values()] if o})
    return BlastRadius(
        target=target, tables=tables, views=views, services=dict(sorted(services.items())), owners=owners
    )
