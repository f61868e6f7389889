"""The feature views to watch, read from the environment's Feast registry (what is deployed, not what is in a PR).

Freshness and consistency describe the running platform, so they read the registry that serving reads; the catalog,
which documents a PR, reads the feature repo instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featurekit.config.settings import Settings
from featurekit.observability.errors import RegistryUnavailableError, UnknownFeatureViewError


@dataclass
class DeployedViews:
    """The Feast ``RepoConfig`` of the environment and its online feature views (batch and stream)."""

    config: Any
    views: list[Any]
    on_demand: list[str]

    def select(self, names: Iterable[Any] | None) -> list[Any]:
        """The views named (names or objects with ``.name``), in the order given; all views when ``names`` is None."""
        if names is None:
            return list(self.views)
        by_name = {v.name: v for v in self.views}
        chosen, unknown = [], []
        for item in names:
            name = item if isinstance(item, str) else item.name
            if name in by_name:
                chosen.append(by_name[name])
            else:
                unknown.append(name)
        if unknown:
            stored = [n for n in unknown if n in self.on_demand]
            if stored:
                raise UnknownFeatureViewError(
                    f"{', '.join(map(repr, stored))} is an on-demand feature view: it is computed at request time and "
                    f"stores nothing online; stored views: {sorted(by_name)}"
                )
            raise UnknownFeatureViewError(
                f"unknown feature view(s) {', '.join(map(repr, unknown))} in the registry of project "
                f"{self.config.project!r}; known: {sorted(by_name)}"
            )
        return chosen


def deployed_views(settings: Settings) -> DeployedViews:
    """Read the registry (bypassing its cache); any failure becomes one message naming the registry path."""
    from featurekit.repo.feast_config import feature_store

    where = f"registry {settings.registry.path} (env {settings.env}, project {settings.project})"
    if "://" not in settings.registry.path and not Path(settings.registry.path).is_file():
        # Checked before Feast, which would create an empty registry file: a read-only check must not write.
        raise RegistryUnavailableError(
            f"{where} could not be read: the file does not exist; apply the repo first (`featurekit apply`)"
        )
    try:
        store = feature_store(settings)
        registry = store.registry
        project = settings.project
        batch = registry.list_feature_views(project, allow_cache=False)
        stream = registry.list_stream_feature_views(project, allow_cache=False)
        on_demand = [v.name for v in registry.list_on_demand_feature_views(project, allow_cache=False)]
    except Exception as exc:  # the registry is a boundary: file, S3, SQL; every failure means "cannot read it"
        raise RegistryUnavailableError(f"{where} could not be read: {type(exc).__name__}: {exc}") from exc
    views = _unique([*batch, *stream])
    if not views:
        raise RegistryUnavailableError(f"{where} has no feature views: run `featurekit apply --env {settings.env}`")
    return DeployedViews(config=store.config, views=[v for v in views if v.online], on_demand=on_demand)


def _unique(views: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for view in views:
        seen.setdefault(view.name, view)
    return sorted(seen.values(), key=lambda v: v.name)
