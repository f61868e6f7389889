"""The feature server: Feast's ``/get-online-features`` contract on the fast read path, plus ``/health`` and
Prometheus ``/metrics``.

No framework routing or validation layers: the request body is parsed with orjson and checked by hand, the response
is serialized with orjson straight from the reader's lists. ``featurekit serve`` runs it on the kit's own HTTP/1.1
front-end (:mod:`featurekit.serving.http`: worker processes sharing the port, never recycled, so no periodic restart
stalls); :func:`create_app` wraps the same server as an ASGI application for embedding in an ASGI server. The
registry is re-checked by a background thread, never on the request path.

Request (Feast's ``GetOnlineFeaturesRequest``)::

    {"features": ["view:feature", ...] | "feature_service": "name", "entities": {"user_id": [1, 2]},
     "full_feature_names": false}

Response: ``{"metadata": {"feature_names": [...]}, "results": [{"values", "statuses", "event_timestamps"}]}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from featurekit.observability.metrics import (
    SERVING_ENTITIES_TOTAL,
    SERVING_ERRORS_TOTAL,
    SERVING_INFLIGHT,
    SERVING_REQUEST_SECONDS,
)
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.serving.auth import BearerAuth
from featurekit.serving.errors import FeatureReferenceError, ServingRequestError

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_ENDPOINT = "/get-online-features"
MAX_BODY_BYTES = 8 * 1024 * 1024


class FeatureServer:
    """Request handling independent of the HTTP layer: ``handle(path, method, authorization, body)``."""

    def __init__(self, reader: Any, auth: BearerAuth | None = None) -> None:
        self.reader = reader
        self.auth = auth or BearerAuth(None)
        self._latency: dict[str, Any] = {}
        self._entities: dict[str, Any] = {}

    def handle(self, path: str, method: str, authorization: bytes | None, body: bytes) -> tuple[int, list, bytes]:
        if not self.auth.allows(path, authorization):
            SERVING_ERRORS_TOTAL.labels(path, "unauthorized").inc()
            return 401, [*_JSON, (b"www-authenticate", b"Bearer")], b'{"detail":"missing or invalid bearer token"}'
        if path == _ENDPOINT and method == "POST":
            return self._online_features(body)
        if path == "/health" and method == "GET":
            return 200, _JSON, b'{"status":"ok"}'
        if path == "/metrics" and method == "GET":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], generate_latest()
        return 404, _JSON, orjson.dumps({"detail": f"no endpoint {method} {path}"})

    def _online_features(self, body: bytes) -> tuple[int, list, bytes]:
        start = time.perf_counter()
        service_label = "-"
        SERVING_INFLIGHT.inc()
        try:
            request = _parse_request(body)
            service_name = request.get("feature_service")
            if service_name:
                service_label = service_name
                features: Any = self.reader.feature_service(service_name)
            else:
                features = request["features"]
            entities = request["entities"]
            result = self.reader.get_online_features(
                features, entities, full_feature_names=bool(request.get("full_feature_names", False))
            )
            payload = orjson.dumps(result.to_feast_json())
            n = result.row_count
            counter = self._entities.get(service_label)
            if counter is None:
                counter = self._entities[service_label] = SERVING_ENTITIES_TOTAL.labels(service_label)
            counter.inc(n)
            return 200, _JSON, payload
        except FeatureReferenceError as exc:
            return self._error(404, "bad_request", exc)
        except ServingRequestError as exc:
            return self._error(400, "bad_request", exc)
        except RedisUnavailableError as exc:
            logger.error("online store unavailable: %s", exc)
            return self._error(503, "redis", exc)
        except OnlineStoreError as exc:
            return self._error(500, "store", exc)
        except Exception as exc:
            logger.exception("unexpected error in /get-online-features")
            return self._error(500, "internal", exc)
        finally:
            SERVING_INFLIGHT.dec()
            hist = self._latency.get(service_label)
            if hist is None:
                hist = self._latency[service_label] = SERVING_REQUEST_SECONDS.labels(service_label, _ENDPOINT)
            hist.observe(time.perf_counter() - start)

    @staticmethod
    def _error(status: int, reason: str, exc: Exception) -> tuple[int, list, bytes]:
        SERVING_ERRORS_TOTAL.labels(_ENDPOINT, reason).inc()
        return status, _JSON, orjson.dumps({"detail": str(exc)})


def _parse_request(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServingRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ServingRequestError("request body must be a JSON object")
    entities = request.get("entities")
    if not isinstance(entities, dict) or not all(isinstance(v, list) for v in entities.values()):
        raise ServingRequestError('"entities" must be an object of lists, e.g. {"user_id": [1, 2]}')
    service = request.get("feature_service")
    features = request.get("features") or []
    if service is not None and not isinstance(service, str):
        raise ServingRequestError('"feature_service" must be a string')
    if not service:
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise ServingRequestError('give "features" (a non-empty list of "view:feature") or "feature_service"')
        request["features"] = features
    return request


class RegistryRefresher:
    """Background thread that keeps the reader's plans in step with the registry."""

    def __init__(self, reader: Any, interval_s: float) -> None:
        self.reader = reader
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="featurekit-registry-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if self.reader.refresh_if_changed():
                    logger.info("registry changed: read plans recompiled")
            except Exception:
                logger.exception("registry refresh failed; serving with the previous plans")

    def stop(self) -> None:
        self._stop.set()


def create_app(reader: Any, *, auth_token: str | None = None, refresh: bool = True) -> Callable[..., Awaitable[None]]:
    """An ASGI app serving ``reader``; ``auth_token`` enables bearer auth; ``refresh`` starts the registry thread
    (the reader should then be built with ``auto_refresh=False``)."""
    server = FeatureServer(reader, BearerAuth(auth_token))
    refresher = RegistryRefresher(reader, reader.refresh_interval_s) if refresh else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if refresher:
                        refresher.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if refresher:
                        refresher.stop()
                    reader.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _respond(send, 413, _JSON, b'{"detail":"request body too large"}')
                return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        status, headers, payload = server.handle(scope["path"], scope["method"], authorization, body)
        await _respond(send, status, headers, payload)

    app.feature_server = server  # type: ignore[attr-defined]
    return app


async def _respond(send: Send, status: int, headers: list, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def feature_store_from_env() -> Any:
    """The Feast store a serving worker reads: ``FEATUREKIT_SERVE_REPO`` (a directory with
    ``feature_store.yaml``) or, when unset, the kit's settings for ``FEATUREKIT_ENV``."""
    import os

    repo = os.environ.get("FEATUREKIT_SERVE_REPO")
    if repo:
        from feast import FeatureStore

        return FeatureStore(repo_path=repo)
    from featurekit.config import load_settings
    from featurekit.repo.feast_config import feature_store

    return feature_store(load_settings())


def _token_from_env() -> str | None:
    import os

    from featurekit.serving.auth import TOKEN_ENV

    return os.environ.get(os.environ.get("FEATUREKIT_SERVE_TOKEN_ENV", TOKEN_ENV)) or None


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


def build_from_env(feature_store: Any = None) -> tuple[FeatureServer, Callable[[], None]]:
    """One serving worker's handler and its shutdown hook, configured from the environment (used by
    ``featurekit serve``): reader with a background registry refresher, optional bearer token. A worker process
    builds its own Feast store; a single in-process worker may reuse the one the CLI already checked."""
    from featurekit.serving.reader import OnlineFeatureReader

    store = feature_store if feature_store is not None else feature_store_from_env()
    reader = OnlineFeatureReader.from_feature_store(store, auto_refresh=False)
    refresher = RegistryRefresher(reader, reader.refresh_interval_s)
    refresher.start()

    def shutdown() -> None:
        refresher.stop()
        reader.close()

    return FeatureServer(reader, BearerAuth(_token_from_env())), shutdown


def app_from_env() -> Callable[..., Awaitable[None]]:
    """uvicorn factory (``uvicorn --factory featurekit.serving.server:app_from_env``), same configuration as
    :func:`build_from_env`, for deployments that standardize on an ASGI server."""
    from featurekit.serving.reader import OnlineFeatureReader

    reader = OnlineFeatureReader.from_feature_store(feature_store_from_env(), auto_refresh=False)
    return create_app(reader, auth_token=_token_from_env())
