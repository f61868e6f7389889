"""Building a serving worker from the environment's settings (what ``featurekit serve`` and the uvicorn factory run).

Limits, timeouts and tokens come from the ``serving`` section of the environment settings (``config/<env>.yaml``,
tokens as ``${VAR}`` references there). A worker is given the environment (``--env``: a name or an environment
file) and, optionally, a bare Feast repo (``--repo``) as arguments and loads the settings itself, so spawned
worker processes see exactly the configuration the CLI checked. The Feast repo is the kit's for the environment, or
``--repo``; only the kit's repo has the offline store that ``/push`` copies rows into.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from featurekit.config import Settings, load_settings
from featurekit.config.settings import ServingSettings
from featurekit.online_store.errors import OnlineStoreError
from featurekit.serving.auth import BearerAuth
from featurekit.serving.server import FeatureServer, RegistryRefresher, create_app

logger = logging.getLogger(__name__)


def feature_store_for(settings: Settings, repo: Path | None = None) -> Any:
    """The Feast store a serving worker reads: the bare Feast ``repo`` (a directory with ``feature_store.yaml``)
    when given, else the kit's store for ``settings``."""
    if repo is not None:
        from feast import FeatureStore

        return FeatureStore(repo_path=str(repo))
    from featurekit.repo.feast_config import feature_store

    return feature_store(settings)


def _read_token(settings: ServingSettings) -> str | None:
    return settings.auth_token.get_secret_value() if settings.auth_token else None


def _offline_location(settings: Settings, repo: Path | None) -> Any:
    """Where ``/push`` copies offline rows: the environment's offline store, unless serving a bare ``--repo``."""
    if repo is not None:
        return None
    from featurekit.offline.storage import offline_location

    return offline_location(settings.offline_store)


def _gates(settings: Settings, repo: Path | None) -> Any:
    """The expectation gates of pushed rows: the kit's repo requires a suite per view; a bare ``--repo`` gates the
    views that have one (``feature_views/<view>.expectations.yaml`` under it)."""
    from featurekit.quality.stream_gate import ViewGates

    if repo is not None:
        return ViewGates(repo, required=False)
    return ViewGates(settings.feature_repo, required=True)


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
    feature_store: Any,
    settings: ServingSettings,
    *,
    offline: Any = None,
    auth_token: str | None = None,
    gates: Any = None,
) -> tuple[FeatureServer, Callable[[], None]]:
    """A worker's handler over ``feature_store`` (reader, registry refresher, Redis probe, writer) and its
    shutdown hook. ``gates`` (:class:`featurekit.quality.stream_gate.ViewGates`) checks pushed rows."""
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
        writer=FeatureWriter(reader, settings.max_write_rows, offline, gates),
        health=health,
    )

    def shutdown() -> None:
        health.stop()
        refresher.stop()
        reader.close()

    return server, shutdown


def build_worker(
    env: str | None = None, repo: Path | None = None, feature_store: Any = None
) -> tuple[FeatureServer, Callable[[], None]]:
    """One serving worker for environment ``env`` (a name or an environment file; default ``FEATUREKIT_ENV``) and
    optionally a bare Feast ``repo``: it loads the settings itself. A worker process builds its own Feast store; a
    single in-process worker may reuse the one the CLI already checked (``feature_store``)."""
    settings = load_settings(env)
    store = feature_store if feature_store is not None else feature_store_for(settings, repo)
    return build_server(
        store,
        settings.serving,
        offline=_offline_location(settings, repo),
        auth_token=_read_token(settings.serving),
        gates=_gates(settings, repo),
    )


def app_for(env: str | None = None, repo: Path | None = None) -> Callable[..., Awaitable[None]]:
    """The ASGI app of :func:`build_worker`'s configuration, for deployments that standardize on an ASGI server."""
    from featurekit.serving.reader import OnlineFeatureReader
    from featurekit.serving.writes import FeatureWriter

    settings = load_settings(env)
    reader = OnlineFeatureReader.from_feature_store(feature_store_for(settings, repo), auto_refresh=False)
    writer = FeatureWriter(
        reader, settings.serving.max_write_rows, _offline_location(settings, repo), _gates(settings, repo)
    )
    return create_app(reader, auth_token=_read_token(settings.serving), settings=settings.serving, writer=writer)


def app_from_env() -> Callable[..., Awaitable[None]]:
    """uvicorn factory (``uvicorn --factory featurekit.serving.wiring:app_from_env``): :func:`app_for` the
    environment ``FEATUREKIT_ENV`` selects."""
    return app_for()
