"""The feature server: Feast's ``/get-online-features`` contract on the fast read path, Feast's ``/push`` and
``/write-to-online-store``, plus ``/health`` and Prometheus ``/metrics``.

:class:`FeatureServer` is independent of the HTTP layer: :meth:`FeatureServer.route` answers cheap endpoints at
once (health, metrics, auth failures, 404) and returns a *job* (``body -> reply``) for the ones that read or write
the store, which the HTTP front-end (:mod:`featurekit.serving.http`) runs on a bounded thread pool under a deadline.
:func:`create_app` wraps the same handler as a plain ASGI app for other servers (uvicorn). The registry is
re-checked by a background thread, never on the request path; Redis health is probed by another.

Request (Feast's ``GetOnlineFeaturesRequest``)::

    {"features": ["view:feature", ...] | "feature_service": "name", "entities": {"user_id": [1, 2]},
     "full_feature_names": false}

Response: ``{"metadata": {"feature_names": [...]}, "results": [{"values", "statuses", "event_timestamps"}]}``; a
row whose stored bytes cannot be decoded gets status ``INVALID`` for that view's features (logged with view and key,
counted in ``featurekit_online_row_errors_total``), and the rest of the batch is served.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from featurekit.config.settings import ServingSettings
from featurekit.observability.metrics import (
    SERVING_ENTITIES_TOTAL,
    SERVING_ERRORS_TOTAL,
    SERVING_INFLIGHT,
    SERVING_REQUEST_SECONDS,
)
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.serving.auth import BearerAuth
from featurekit.serving.errors import FeatureReferenceError, ServingRequestError
from featurekit.serving.request import RequestTooLargeError, check_request_data, parse_features_request

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
Job = Callable[[bytes], Reply]

_JSON = [(b"content-type", b"application/json")]
_ENDPOINT = "/get-online-features"
_WRITES = {"/push": "push", "/write-to-online-store": "write_to_online_store"}
_METHODS = {_ENDPOINT: "POST", "/push": "POST", "/write-to-online-store": "POST", "/health": "GET", "/metrics": "GET"}


class FeatureServer:
    """Request handling independent of the HTTP layer (see the module docstring)."""

    def __init__(
        self,
        reader: Any,
        auth: BearerAuth | None = None,
        settings: ServingSettings | None = None,
        *,
        writer: Any = None,
        health: Any = None,
    ) -> None:
        self.reader = reader
        self.auth = auth or BearerAuth(None)
        self.settings = settings or ServingSettings()
        self.writer = writer
        self.health = health
        self._latency: dict[str, Any] = {}
        self._entities: dict[str, Any] = {}
        self._request_fields: dict[int, tuple[Any, dict[str, Any]]] = {}

    def start(self) -> None:
        """Start the background Redis probe (called once the worker's loop runs)."""
        if self.health is not None:
            self.health.start()

    def route(self, method: str, path: str, authorization: bytes | None) -> Reply | Job:
        """A reply for cheap endpoints, or the job (``body -> reply``) that answers a store request."""
        expected = _METHODS.get(path)
        if expected is None:
            return 404, _JSON, orjson.dumps({"detail": f"no endpoint {method} {path}"})
        if method != expected:
            return 405, [*_JSON, (b"allow", expected.encode())], orjson.dumps({"detail": f"{path} takes {expected}"})
        if not self.auth.allows(path, authorization):
            SERVING_ERRORS_TOTAL.labels(path, "unauthorized").inc()
            return 401, [*_JSON, (b"www-authenticate", b"Bearer")], b'{"detail":"missing or invalid bearer token"}'
        if path == _ENDPOINT:
            return self._online_features
        if path in _WRITES:
            return lambda body: self._write(path, body)
        if path == "/health":
            snapshot = self.health.snapshot() if self.health is not None else {"status": "ok"}
            return 200, _JSON, orjson.dumps(snapshot)
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], generate_latest()

    def handle(self, path: str, method: str, authorization: bytes | None, body: bytes) -> Reply:
        """Route and run a request synchronously (tests, the ASGI app)."""
        routed = self.route(method, path, authorization)
        return routed(body) if callable(routed) else routed

    def timed_out(self, path: str) -> None:
        SERVING_ERRORS_TOTAL.labels(path, "timeout").inc()

    def _online_features(self, body: bytes) -> Reply:
        start = time.perf_counter()
        service_label = "-"
        SERVING_INFLIGHT.inc()
        try:
            request = parse_features_request(body, self.settings.max_entities)
            if request.feature_service:
                service_label = request.feature_service
                features: Any = self.reader.feature_service(request.feature_service)
            else:
                features = request.features
            check_request_data(self._request_data_types(features, request.full_feature_names), request.entities)
            result = self.reader.get_online_features(
                features, request.entities, full_feature_names=request.full_feature_names
            )
            payload = orjson.dumps(result.to_feast_json())
            for error in result.errors():
                _log_row_error(error, request.entities)
            counter = self._entities.get(service_label)
            if counter is None:
                counter = self._entities[service_label] = SERVING_ENTITIES_TOTAL.labels(service_label)
            counter.inc(result.row_count)
            return 200, _JSON, payload
        except Exception as exc:
            return _failure(_ENDPOINT, exc)
        finally:
            SERVING_INFLIGHT.dec()
            hist = self._latency.get(service_label)
            if hist is None:
                hist = self._latency[service_label] = SERVING_REQUEST_SECONDS.labels(service_label, _ENDPOINT)
            hist.observe(time.perf_counter() - start)

    def _request_data_types(self, features: Any, full_feature_names: bool) -> dict[str, Any]:
        """Declared types of the request-data fields the request's on-demand views need (cached per plan)."""
        plan = self.reader.plan(features, full_feature_names)
        cached = self._request_fields.get(id(plan))
        if cached is not None and cached[0] is plan:
            return cached[1]
        fields: dict[str, Any] = {}
        for step in plan.odfvs:
            fields.update(step.odfv.get_request_data_schema())
        if len(self._request_fields) > 1024:  # plans are recompiled when the registry changes: drop old entries
            self._request_fields = {}
        self._request_fields[id(plan)] = (plan, fields)
        return fields

    def _write(self, path: str, body: bytes) -> Reply:
        if self.writer is None:
            return 501, _JSON, orjson.dumps({"detail": f"{path} is not enabled on this server"})
        try:
            return 200, _JSON, orjson.dumps(getattr(self.writer, _WRITES[path])(body))
        except Exception as exc:
            return _failure(path, exc)


def _failure(path: str, exc: Exception) -> Reply:
    """The status for an exception: client mistakes 4xx naming the field, Redis 503, the rest 500."""
    if isinstance(exc, FeatureReferenceError):
        status, reason = 404, "bad_request"
    elif isinstance(exc, RequestTooLargeError):
        status, reason = 413, "too_large"
    elif isinstance(exc, ServingRequestError):
        status, reason = 400, "bad_request"
    elif isinstance(exc, RedisUnavailableError):
        logger.error("online store unavailable: %s", exc)
        status, reason = 503, "redis"
    elif isinstance(exc, OnlineStoreError):
        logger.error("online store error on %s: %s", path, exc)
        status, reason = 500, "store"
    else:
        logger.exception("unexpected error in %s", path)
        status, reason = 500, "internal"
        exc = RuntimeError("internal error")
    SERVING_ERRORS_TOTAL.labels(path, reason).inc()
    return status, _JSON, orjson.dumps({"detail": str(exc)})


def _log_row_error(error: dict[str, Any], entities: dict[str, list[Any]]) -> None:
    row = error["row"]
    key = ", ".join(f"{name}={values[row]!r}" for name, values in entities.items() if row < len(values))
    view, message = error["feature_view"], error["error"]
    logger.warning("feature view %s, entity %s: stored row not decodable: %s", view, key, message)


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


def create_app(
    reader: Any,
    *,
    auth_token: str | None = None,
    refresh: bool = True,
    settings: ServingSettings | None = None,
    writer: Any = None,
) -> Callable[..., Awaitable[None]]:
    """An ASGI app serving ``reader`` with the same handler, limits and thread pool as ``featurekit serve``;
    ``auth_token`` enables bearer auth; ``refresh`` starts the registry thread (the reader should then be built
    with ``auto_refresh=False``)."""
    from concurrent.futures import ThreadPoolExecutor

    settings = settings or ServingSettings()
    server = FeatureServer(reader, BearerAuth(auth_token), settings, writer=writer)
    refresher = RegistryRefresher(reader, reader.refresh_interval_s) if refresh else None
    executor = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="featurekit-asgi")

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
                    executor.shutdown(wait=False)
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
            if len(body) > settings.max_body_bytes:
                detail = f"request body exceeds {settings.max_body_bytes} bytes (serving.max_body_bytes)"
                await _respond(send, 413, _JSON, orjson.dumps({"detail": detail}))
                return
        auth = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(auth) > 1:
            await _respond(send, 400, _JSON, b'{"detail":"more than one Authorization header"}')
            return
        routed = server.route(scope["method"], scope["path"], auth[0] if auth else None)
        if callable(routed):
            routed = await asyncio.get_running_loop().run_in_executor(executor, routed, body)
        await _respond(send, *routed)

    app.feature_server = server  # type: ignore[attr-defined]
    return app


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
