"""Feast's ``RepoConfig`` built from the kit's settings, so no ``feature_store.yaml`` is typed by hand.

The offline store block comes from the configured offline backend (``settings.offline_store``); the online store
is always the kit's tiered Redis store, loaded by Feast through its import path. The provider and batch engine are
the kit's Feast extensions (``featurekit.online_store.feast_write``) so that Feast's own ``materialize``,
``write_to_online_store`` and ``push`` write Arrow straight into the store; the provider is Feast's passthrough
provider otherwise, which is what Feast's ``local`` and ``aws`` providers are, so ``settings.provider`` changes
nothing Feast does.
"""

from __future__ import annotations

from typing import Any

import yaml

from featurekit.config.settings import Settings
from featurekit.online_store.config import ENGINE_TYPE, PROVIDER_TYPE


def feature_store_dict(settings: Settings, *, reveal_secrets: bool = True) -> dict[str, Any]:
    """The content of a ``feature_store.yaml`` for ``settings``."""
    online = settings.online_store.model_dump(mode="python", exclude_none=True)
    for tier in online["tiers"].values():
        if "password" in tier:
            tier["password"] = tier["password"].get_secret_value() if reveal_secrets else "**********"
    return {
        "project": settings.project,
        "provider": PROVIDER_TYPE,
        "batch_engine": {"type": ENGINE_TYPE},
        "registry": {
            "registry_type": "file",
            "path": settings.registry.path,
            "cache_ttl_seconds": settings.registry.cache_ttl_seconds,
        },
        "online_store": online,
        "offline_store": settings.offline_store.feast_store_block(settings.quality.training_requires_validation),
        "entity_key_serialization_version": settings.entity_key_serialization_version,
    }


def repo_config(settings: Settings):
    """A Feast ``RepoConfig`` for ``settings`` (Feast imported lazily: it costs seconds)."""
    from feast.repo_config import RepoConfig

    return RepoConfig(repo_path=settings.feature_repo, **feature_store_dict(settings))


def feature_store(settings: Settings):
    """A Feast ``FeatureStore`` for ``settings``."""
    from feast import FeatureStore

    return FeatureStore(config=repo_config(settings), repo_path=str(settings.feature_repo))


def render_feature_store_yaml(settings: Settings) -> str:
    """``feature_store.yaml`` text (secrets masked) for Feast's own CLI and UI."""
    return yaml.safe_dump(feature_store_dict(settings, reveal_secrets=False), sort_keys=False)
