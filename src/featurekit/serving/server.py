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
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from featurekit.config.settings import ServingSettings
from featurekit.errors import FeaturekitError
from featurekit.metrics import (
    SERVING_ENTITIES_TOTAL,
    SERVING_ERRORS_TOTAL,
    SERVING_INFLIGHT,
    SERVING_REQUEST_SECONDS,
)
from featurekit.online_store.errors import OnlineStoreError, RedisUnavailableError
from featurekit.online_store.read import columnar
from featurekit.serving.auth import BearerAuth
from featurekit.serving.errors import FeatureReferenceError, PushQualityError, ServingRequestError
from featurekit.serving.request import (
    FeaturesRequest,
    RequestTooLargeError,
    check_request_data,
    parse_features_request,
)
from featurekit.serving.responses import JSON_HEADERS as _JSON

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
_R = TypeVar("_R", Reply, Reply | None)  # a reply, or none when the read was cancelled at the deadline
Job = Callable[[bytes], Reply]

_ENDPOINT = "/get-online-features"
_WRITES = {"/push": "push", "/write-to-online-store": "write_to_online_store"}
_METHODS = {_ENDPOINT: "POST", "/push": "POST", "/write-to-online-store": "POST", "/health": "GET", "/metrics": "GET"}


@dataclass
class _Prepared:
    """A parsed, planned ``/get-online-features`` request, ready to read."""

    entities: dict[str, list[Any]]  # as sent (for log lines naming the entity)
    label: str  # feature service name or "-" (metrics label)
    plan: Any
    columns: dict[str, list[Any]]
    n: int


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
        # The job :meth:`route` returns for reads; the HTTP front-end recognises it and may start small requests
        # on its event loop with :meth:`begin_online` instead of running it on the thread pool.
        self.online_job: Job = self._online_features

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
            return self.online_job
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
        """The whole request on the calling thread (the thread pool, the ASGI app, tests)."""
        started = time.perf_counter()
        SERVING_INFLIGHT.inc()
        try:
            request = parse_features_request(body, self.settings.max_entities)
        except Exception as exc:
            return self._finish(started, "-", _failure(_ENDPOINT, exc))
        return self._prepare_and_answer(request, started)

    def begin_online(self, body: bytes) -> Reply | Coroutine[Any, Any, Reply] | Callable[[], Reply]:
        """Start a ``/get-online-features`` request on the event loop (small bodies only, see
        :mod:`featurekit.serving.http`). Returns the reply (a client error), a coroutine reading on the loop (at most
        ``serving.inline_max_entities`` rows of plain views on standalone tiers, with a plan already compiled), or a
        thunk for the thread pool: more rows, on-demand views (user code of unknown cost), Cluster tiers, and the
        first request of a shape after start or a registry change (compiling its plan reads the registry, which
        may be a file or S3 round trip: never on the loop)."""
        started = time.perf_counter()
        SERVING_INFLIGHT.inc()
        try:
            request = parse_features_request(body, self.settings.max_entities)
        except Exception as exc:
            return self._finish(started, "-", _failure(_ENDPOINT, exc))
        plan = self.reader.cached_plan(request.feature_service or request.features, request.full_feature_names)
        if (
            plan is None
            or request.rows > self.settings.inline_max_entities
            or plan.odfvs
            or not all(tier.loop_native for tier, _ in plan.server_groups)
        ):
            return lambda: self._prepare_and_answer(request, started)
        label = request.feature_service or "-"
        try:
            prepared = self._prepared(request, label, plan)
        except Exception as exc:
            return self._finish(started, label, _failure(_ENDPOINT, exc))
        return self._read_and_answer_async(prepared, started)

    def _prepare_and_answer(self, request: FeaturesRequest, started: float) -> Reply:
        label = request.feature_service or "-"
        try:
            features: Any = request.features
            if request.feature_service:
                features = self.reader.feature_service(request.feature_service)
            prepared = self._prepared(request, label, self.reader.plan(features, request.full_feature_names))
        except Exception as exc:
            return self._finish(started, label, _failure(_ENDPOINT, exc))
        return self._read_and_answer(prepared, started)

    def _prepared(self, request: FeaturesRequest, label: str, plan: Any) -> _Prepared:
        check_request_data(self._request_data_types(plan), request.entities)
        columns, n = columnar(request.entities, plan)
        return _Prepared(request.entities, label, plan, columns, n)

    def _read_and_answer(self, prepared: _Prepared, started: float) -> Reply:
        try:
            reply = self._answer(prepared, self.reader.read_planned(prepared.plan, prepared.columns, prepared.n))
        except Exception as exc:
            reply = _failure(_ENDPOINT, exc)
        return self._finish(started, prepared.label, reply)

    async def _read_and_answer_async(self, prepared: _Prepared, started: float) -> Reply:
        reply: Reply | None = None
        try:
            result = await self.reader.read_planned_async(prepared.plan, prepared.columns, prepared.n)
            reply = self._answer(prepared, result)
        except Exception as exc:
            reply = _failure(_ENDPOINT, exc)
        finally:  # also when cancelled at the request deadline
            self._finish(started, prepared.label, reply)
        return reply

    def _answer(self, prepared: _Prepared, result: Any) -> Reply:
        payload = orjson.dumps(result.to_feast_json())
        for error in result.errors():
            _log_row_error(error, prepared.entities)
        counter = self._entities.get(prepared.label)
        if counter is None:
            counter = self._entities[prepared.label] = SERVING_ENTITIES_TOTAL.labels(prepared.label)
        counter.inc(result.row_count)
        return 200, _JSON, payload

    def _finish(self, started: float, label: str, reply: _R) -> _R:
        SERVING_INFLIGHT.dec()
        hist = self._latency.get(label)
        if hist is None:
            hist = self._latency[label] = SERVING_REQUEST_SECONDS.labels(label, _ENDPOINT)
        hist.observe(time.perf_counter() - started)
        return reply

    def _request_data_types(self, plan: Any) -> dict[str, Any]:
        """Declared types of the request-data fields the request's on-demand views need (cached per plan)."""
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
    elif isinstance(exc, PushQualityError):
        logger.warning("refused %s: %s", path, exc)
        status, reason = 422, "quality"
    elif isinstance(exc, ServingRequestError):
        status, reason = 400, "bad_request"
    elif isinstance(exc, RedisUnavailableError):
        logger.error("online store unavailable: %s", exc)
        status, reason = 503, "redis"
    elif isinstance(exc, OnlineStoreError):
        logger.error("online store error on %s: %s", path, exc)
        status, reason = 500, "store"
    elif isinstance(exc, FeaturekitError):  # the deployment's mistake, e.g. a pushed view without its suite
        logger.error("%s failed: %s", path, exc)
        status, reason = 500, "configuration"
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
