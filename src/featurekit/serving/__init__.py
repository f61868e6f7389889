"""Online serving: the fast read path and the HTTP feature server.

Public API (imported lazily, so ``import featurekit.serving`` stays cheap):

``OnlineFeatureReader(repo_config, registry=None, *, store=None, refresh_interval_s=None, auto_refresh=True)``
    Reads features straight from the featurekit online store. Build it from a Feast ``RepoConfig`` or with
    ``OnlineFeatureReader.from_feature_store(feast.FeatureStore(...))``.

``OnlineFeatureReader.get_online_features(features, entity_rows, *, full_feature_names=False,
include_event_timestamps=False) -> OnlineFeaturesResult``
    Same arguments and result shape as ``feast.FeatureStore.get_online_features`` (``features``: list of
    ``"view:feature"`` or a ``FeatureService``; ``entity_rows``: list of dicts or a dict of columns; on-demand
    feature views are computed). ``result.to_dict()`` is Feast's dict; ``result.to_feast_json()`` the body of
    Feast's ``/get-online-features`` response; ``result.event_timestamps()`` / ``result.ages_seconds()`` give each
    feature view's row time and age; ``result.errors()`` lists rows whose stored bytes could not be decoded.

``get_online_features(reader, features, entity_rows, **kwargs)``
    Module-level convenience for the method above.

``create_app(reader, *, auth_token=None, settings=None, writer=None) -> ASGI app``
    The feature server's handler as an ASGI app (``/get-online-features``, ``/push``, ``/write-to-online-store``,
    ``/health``, ``/metrics``) for other ASGI servers; ``featurekit serve`` runs the same handler on its own
    llhttp-based front-end (:mod:`featurekit.serving.http`) with the limits of ``ServingSettings``.

Errors: ``FeatureReferenceError`` (unknown reference/service) and ``EntityRowsError`` (missing or mistyped entity
column), both ``ServingRequestError`` (a ``ValueError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurekit.serving.errors import EntityRowsError, FeatureReferenceError, ServingRequestError
    from featurekit.serving.reader import OnlineFeatureReader
    from featurekit.serving.result import OnlineFeaturesResult
    from featurekit.serving.server import create_app

__all__ = [
    "EntityRowsError",
    "FeatureReferenceError",
    "OnlineFeatureReader",
    "OnlineFeaturesResult",
    "ServingRequestError",
    "create_app",
    "get_online_features",
]

_LAZY = {
    "OnlineFeatureReader": "featurekit.serving.reader",
    "OnlineFeaturesResult": "featurekit.serving.result",
    "create_app": "featurekit.serving.server",
    "EntityRowsError": "featurekit.serving.errors",
    "FeatureReferenceError": "featurekit.serving.errors",
    "ServingRequestError": "featurekit.serving.errors",
}


def get_online_features(reader: OnlineFeatureReader, features: Any, entity_rows: Any, **kwargs: Any) -> Any:
    """``reader.get_online_features(features, entity_rows, **kwargs)`` as a function."""
    return reader.get_online_features(features, entity_rows, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
