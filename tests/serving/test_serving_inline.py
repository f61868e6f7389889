"""Where the feature server does a read's work (real server, real Redis): small reads of plain views are answered
on the event loop with an asyncio Redis read, larger ones, on-demand views and the first read of a shape (whose
plan compilation reads the registry) on the bounded thread pool, and both give the same bytes. A busy pool never
delays a small read; a hung Redis costs either kind one bounded wait."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
import redis
from feast import FeatureStore

from featurekit.config.settings import ServingSettings
from featurekit.serving.server import FeatureServer
from support.raw_http import exchange, request, running_server
from support.serving_project import OBJECTS, write_fixture_data, write_repo

FEATURES = ["user_profile:age", "user_profile:country", "user_balance:balance", "merchant_risk:risk_score"]
INLINE = 8  # serving.inline_max_entities in these tests


@pytest.fixture(scope="module")
def feature_store(redis_server, tmp_path_factory) -> Iterator[FeatureStore]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    repo = tmp_path_factory.mktemp("inline") / "repo"
    write_repo(repo, redis_server.url)
    store = FeatureStore(repo_path=str(repo))
    store.apply(OBJECTS)
    write_fixture_data(store, datetime.now(UTC).replace(microsecond=0))
    yield store
    store._get_provider().online_store.close()


def _body(users: list[int], features: list[str] | None = None, **extra: object) -> bytes:
    merchants = [f"m{1 + u % 20}" for u in users]
    entities = {"user_id": users, "merchant_id": merchants}
    if features is None:
        features = FEATURES
    return orjson.dumps({"features": features, "entities": entities, **extra})


@pytest.fixture(scope="module")
def server(feature_store) -> Iterator[FeatureServer]:
    from featurekit.serving.wiring import build_server

    built, shutdown = build_server(feature_store, ServingSettings(inline_max_entities=INLINE))
    yield built
    shutdown()


def test_small_reads_run_on_the_loop_and_answer_what_the_pool_answers(server):
    async def inline(body: bytes) -> tuple:
        begun = server.begin_online(body)
        assert asyncio.iscoroutine(begun), begun
        return await begun

    shape = ["user_profile:age", "user_balance:balance", "merchant_risk:risk_score", "user_profile:verified"]
    first = server.begin_online(_body([1], shape))  # its plan is compiled on the pool: the registry is never read
    assert callable(first) and not asyncio.iscoroutine(first)  # on the loop
    assert first()[0] == 200
    loop = asyncio.new_event_loop()
    try:
        for users in ([1], [2, 13, 999], list(range(1, INLINE + 1))):
            body = _body(users, shape)
            on_loop = loop.run_until_complete(inline(body))
            pooled = server.handle("/get-online-features", "POST", None, body)
            assert on_loop[0] == 200 and on_loop[:2] == pooled[:2]
            assert orjson.loads(on_loop[2]) == orjson.loads(pooled[2])
            assert len(orjson.loads(on_loop[2])["results"][0]["values"]) == len(users)
    finally:
        loop.close()


def test_larger_reads_and_on_demand_views_go_to_the_pool_and_mistakes_are_answered_at_once(server):
    assert server.handle("/get-online-features", "POST", None, _body([1]))[0] == 200  # the plan is compiled
    small = server.begin_online(_body([1]))
    assert asyncio.iscoroutine(small)
    assert asyncio.run(small)[0] == 200
    more = server.begin_online(_body(list(range(1, INLINE + 2))))
    assert callable(more) and not asyncio.iscoroutine(more)
    status, _, payload = more()
    assert status == 200 and len(orjson.loads(payload)["results"][0]["values"]) == INLINE + 1

    on_demand = {"features": ["advance_python:can_cover"], "entities": {"user_id": [2], "requested_amount": [1.0]}}
    assert server.handle("/get-online-features", "POST", None, orjson.dumps(on_demand))[0] == 200
    odfv = server.begin_online(orjson.dumps(on_demand))
    assert callable(odfv) and not asyncio.iscoroutine(odfv)
    assert odfv()[0] == 200

    refused = server.begin_online(_body([1], full_feature_names="false"))
    assert isinstance(refused, tuple) and refused[0] == 400 and b"full_feature_names" in refused[2]
    unknown = server.begin_online(_body([1], ["user_profile:nope"]))  # no plan: the pool finds out
    assert callable(unknown) and unknown()[0] == 404
    service = orjson.dumps({"feature_service": "nope", "entities": {"user_id": [1]}})
    assert server.begin_online(service)()[0] == 404


def test_a_busy_pool_does_not_delay_small_reads(feature_store):
    """With every pool thread taken, a batch-1 read is still answered; a read over the inline limit waits for the
    pool and gets 503 at the request deadline."""
    limits = {"worker_threads": 1, "inline_max_entities": INLINE, "request_timeout_s": 0.5}
    with running_server(feature_store, **limits) as srv:
        small = request("POST", "/get-online-features", _body([2]), {"Connection": "close"})
        assert exchange(srv.port, small)[0][0].status == 200  # compiles the plan (on the pool)
        release = threading.Event()
        srv.executor.submit(release.wait, 10)
        try:
            got = exchange(srv.port, small)[0][0]
            answer = got.json()
            assert got.status == 200
            assert answer["results"][answer["metadata"]["feature_names"].index("balance")]["values"] == [6.6]
            large = request("POST", "/get-online-features", _body(list(range(1, 20))), {"Connection": "close"})
            waited = exchange(srv.port, large)[0][0]
            assert waited.status == 503 and "serving.request_timeout_s" in waited.json()["detail"]
        finally:
            release.set()
