"""Building a serving worker from the environment (what ``featurekit serve`` and the uvicorn factory run).

Limits, timeouts and tokens come from the ``serving`` section of the environment settings (``config/<env>.yaml``,
tokens as ``${VAR}`` references there); the CLI's ``--token-env`` names the variable holding the read token
(``FEATUREKIT_SERVING_TOKEN`` by default, the same one the settings reference). The Feast repo is the kit's for the
environment, or ``--repo``; only the kit's repo has the offline store that ``/push`` copies rows into.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from featurekit.config.settings import ServingSettings
from featurekit.online_store.errors import OnlineStoreError
from featurekit.serving.auth import TOKEN_ENV, BearerAuth
from featurekit.serving.server import FeatureServer, RegistryRefresher, create_app

logger = logging.getLogger(__name__)
REPO_ENV = "FEATUREKIT_SERVE_REPO"
TOKEN_ENV_ENV = "FEATUREKIT_SERVE_TOKEN_ENV"


def _settings() -> Any:
    from featurekit.config import load_settings

    return load_settings()


def feature_store_from_env() -> Any:
    """The Feast store a serving worker reads: ``FEATUREKIT_SERVE_REPO`` (a directory with
    ``feature_store.yaml``) or, when unset, the kit's settings for ``FEATUREKIT_ENV``."""
    repo = os.environ.get(REPO_ENV)
    if repo:
        from feast import FeatureStore

        return FeatureStore(repo_path=repo)
    from featurekit.repo.feast_config import feature_store

    return feature_store(_settings())


def serving_settings() -> ServingSettings:
    """The environment's ``serving`` section (``FEATUREKIT_ENV``)."""
    return _settings().serving


def _read_token(settings: ServingSettings) -> str | None:
    from_env = os.environ.get(os.environ.get(TOKEN_ENV_ENV, TOKEN_ENV))
    if from_env:
        return from_env
    return settings.auth_token.get_secret_value() if settings.auth_token else None


def _offline_location() -> Any:
    """Where ``/push`` copies offline rows: the environment's offline store, unless serving a bare ``--repo``."""
    if os.environ.get(REPO_ENV):
        return None
    from featurekit.offline.storage import offline_location

    return offline_location(_settings().offline_store)


def preflight(feature_store: Any) -> int:
    """Check before serving that every feature view compiles and its tier has a Redis URL; returns how many views
    were checked. A misconfigured tier fails here, naming the setting, instead of on the first request."""
    from featurekit.online_store.store import TieredRedisOnlineStore

    online = feature_store._get_provider().online_store
    if not isinstance(online, TieredRedisOnlineStore):
        raise OnlineStoreError(
            f"the feature server needs online_store type {TieredRedisOnlineStore.__module__}.TieredRedisOnlineStore, "
            f"the repo uses {type(online).__name__}"
        )
    views = [*feature_store.list_feature_views(), *feature_store.list_stream_feature_views()]
    store_config = online.store_config(feature_store.config)
    for view in views:
        online.tier(store_config, online.compiled(feature_store.config, view).tier)
    return len(views)


def build_server(
    feature_store: Any, settings: ServingSettings, *, offline: Any = None, auth_token: str | None = None
) -> tuple[FeatureServer, Callable[[], None]]:
    """A worker's handler over ``feature_store`` (reader, registry refresher, Redis probe, writer) and its
    shutdown hook."""
    from featurekit.serving.health import RedisHealth
    from featurekit.serving.reader import OnlineFeatureReader
    from featurekit.serving.writes import FeatureWriter

    reader = OnlineFeatureReader.from_feature_store(feature_store, auto_refresh=False)
    refresher = RegistryRefresher(reader, reader.refresh_interval_s)
    refresher.start()
    health = RedisHealth.for_reader(reader, settings.redis_probe_interval_s)
    write_token = settings.write_token.get_secret_value() if settings.write_token else None
    server = FeatureServer(
        reader,
        BearerAuth(auth_token, write_token=write_token),
        settings,
        writer=FeatureWriter(reader, settings.max_write_rows, offline),
        health=health,
    )

    def shutdown() -> None:
        health.stop()
        refresher.stop()
        reader.close()

    return server, shutdown


def build_from_env(feature_store: Any = None) -> tuple[FeatureServer, Callable[[], None]]:
    """One serving worker configured from the environment (used by ``featurekit serve``). A worker process builds
    its own Feast store; a single in-process worker may reuse the one the CLI already checked."""
    settings = serving_settings()
    store = feature_store if feature_store is not None else feature_store_from_env()
    return build_server(store, settings, offline=_offline_location(), auth_token=_read_token(settings))


def app_from_env() -> Callable[..., Awaitable[None]]:
    """uvicorn factory (``uvicorn --factory featurekit.serving.wiring:app_from_env``), same configuration as
    :func:`build_from_env`, for deployments that standardize on an ASGI server."""
    from featurekit.serving.reader import OnlineFeatureReader
    from featurekit.serving.writes import FeatureWriter

    settings = serving_settings()
    reader = OnlineFeatureReader.from_feature_store(feature_store_from_env(), auto_refresh=False)
    writer = FeatureWriter(reader, settings.max_write_rows, _offline_location())
    return create_app(reader, auth_token=_read_token(settings), settings=settings, writer=writer)
