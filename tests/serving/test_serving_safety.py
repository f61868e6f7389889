"""The feature server's data path under bad input and bad state (real server, real Redis): client mistakes are
4xx naming the field, ids are checked before keys are built, an undecodable row fails only its entity, a hung Redis
costs one bounded wait (503) while /health answers, and Feast's /push and /write-to-online-store write through the
newer-wins writer."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis
from feast import FeatureStore, FeatureView, Field, PushSource
from feast.types import Float64, Int64, String

from support.raw_http import Response, exchange, request, running_server
from support.serving_project import OBJECTS, USER, USER_PROFILE, USER_SOURCE, write_fixture_data, write_repo

TOKEN = "read-token"
WRITE_TOKEN = "write-token"
FEATURES = ["user_profile:age", "user_profile:country", "user_balance:balance"]
PUSH = PushSource(name="score_push", batch_source=USER_SOURCE)
PUSHED = FeatureView(
    name="user_score",
    entities=[USER],
    ttl=timedelta(days=30),
    schema=[Field(name="user_id", dtype=Int64), Field(name="score", dtype=Float64), Field(name="note", dtype=String)],
    source=PUSH,
    tags={"tier": "hot", "schedule": "stream"},
)
# The pushed view's expectation suite, next to its definition as in the kit's repo: pushes pass it or are refused.
PUSHED_SUITE = """
view: user_score
expectations:
  - expect_column_values_to_be_of_type: {column: score, type_: float64}
  - expect_column_values_to_be_between: {column: score, min_value: 0, max_value: 100}
  - expect_column_values_to_not_match_regex: {column: note, regex: "<script"}
"""


@pytest.fixture(scope="module")
def feature_store(redis_server, tmp_path_factory) -> Iterator[FeatureStore]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    repo = tmp_path_factory.mktemp("safety") / "repo"
    write_repo(repo, redis_server.url)
    (repo / "feature_views").mkdir(exist_ok=True)
    (repo / "feature_views" / "user_score.expectations.yaml").write_text(PUSHED_SUITE)
    store = FeatureStore(repo_path=str(repo))
    store.apply([*OBJECTS, PUSH, PUSHED])
    write_fixture_data(store, datetime.now(UTC).replace(microsecond=0))
    yield store
    store._get_provider().online_store.close()


@pytest.fixture(scope="module")
def offline_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("offline")


@pytest.fixture(scope="module")
def port(feature_store, offline_root) -> Iterator[int]:
    import pyarrow.fs as pafs

    from featurekit.offline.storage import OfflineLocation
    from featurekit.quality.stream_gate import ViewGates

    offline = OfflineLocation(pafs.LocalFileSystem(), str(offline_root), str(offline_root))
    gates = ViewGates(Path(feature_store.repo_path), required=False)  # as `featurekit serve --repo` builds them
    # a generous deadline: the first write imports pyarrow.parquet and friends, slow on a busy CI machine
    limits = {"write_token": WRITE_TOKEN, "request_timeout_s": 30.0}
    with running_server(feature_store, offline=offline, token=TOKEN, gates=gates, **limits) as server:
        yield server.port


def _post(port: int, path: str, body: object, token: str | None = TOKEN, extra: bytes = b"") -> Response:
    headers = {"Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    raw = request("POST", path, body if isinstance(body, bytes | dict) else None, headers)
    responses, _ = exchange(port, raw)
    assert responses, "no response"
    return responses[0]


def _read(port: int, entities: dict, features: list[str] = FEATURES, **extra: object) -> Response:
    return _post(port, "/get-online-features", {"features": features, "entities": entities, **extra})


# ---- client mistakes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"features": FEATURES, "entities": {"user_id": [[1, 2], [3]]}}, 400, "entities.user_id[0]"),
        ({"features": FEATURES, "entities": {"user_id": [1], "merchant_id": ["m1", "m2"]}}, 400, "every column"),
        ({"features": FEATURES, "entities": {"user_id": [1]}, "full_feature_names": "false"}, 400, "full_feature"),
        ({"features": FEATURES, "entities": {"user_id": [1]}, "full_feature_names": 1}, 400, "full_feature"),
        ({"features": FEATURES, "entities": {"user_id": 5}}, 400, "entities.user_id"),
        ({"features": FEATURES, "entities": {}}, 400, '"entities"'),
        ({"features": "user_profile:age", "entities": {"user_id": [1]}}, 400, '"features"'),
        ({"feature_service": 7, "entities": {"user_id": [1]}}, 400, '"feature_service"'),
        ({"features": ["merchant_risk:risk_score"], "entities": {"merchant_id": ["m" * 70_000]}}, 400, "65535"),
        ({"features": FEATURES, "entities": {"user_id": ["1"]}}, 400, "user_id"),
        ({"features": FEATURES, "entities": {"user_id": [True]}}, 400, "user_id"),
        (
            {"features": ["advance_python:can_cover"], "entities": {"user_id": [2], "requested_amount": ["abc"]}},
            400,
            "entities.requested_amount[0]",
        ),
        (
            {"features": ["advance_python:can_cover"], "entities": {"user_id": [2], "requested_amount": [None]}},
            400,
            "entities.requested_amount[0]",
        ),
    ],
    ids=[
        "ragged-nested-ids", "uneven-columns", "flag-as-string", "flag-as-number", "column-not-a-list",
        "no-entities", "features-not-a-list", "service-not-a-string", "70k-string-key", "string-for-int-key",
        "bool-for-int-key", "request-data-string", "request-data-null",
    ],
)  # fmt: skip
def test_client_mistakes_are_4xx_naming_the_field(port, body, status, names):
    response = _post(port, "/get-online-features", body)
    assert response.status == status, response.body
    assert names in response.json()["detail"]


def test_deeply_nested_json_is_400(port):
    body = b'{"features":["user_profile:age"],"entities":{"user_id":' + b"[" * 1000 + b"1" + b"]" * 1000 + b"}}"
    response = _post(port, "/get-online-features", body)
    assert response.status == 400 and "entities.user_id[0]" in response.json()["detail"]


def test_duplicate_authorization_is_400(port):
    raw = request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}", "authorization": "Bearer other"})
    responses, closed = exchange(port, raw)
    assert responses[0].status == 400 and "Authorization" in responses[0].json()["detail"] and closed


# ---- ids validated before keys are built ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 15, 16, 1000])
@pytest.mark.parametrize("value", [2**64 - 1, 2**63, -(2**63) - 1])
def test_out_of_range_ids_are_refused_on_every_batch_size(port, count, value):
    response = _read(port, {"user_id": [value] * count})
    detail = response.json()["detail"]
    assert response.status == 400 and "user_id" in detail
    # beyond 64 bits JSON parsers yield a float, refused as not an integer
    assert "does not fit Int64" in detail if value < 2**64 and value >= -(2**63) else "must be an integer" in detail


def test_stock_feast_path_refuses_out_of_range_ids_too(feature_store):
    """Feast's own reader refuses the id while converting it (before our store builds a key)."""
    with pytest.raises(ValueError, match=r"out of range|does not fit Int64"):
        feature_store.get_online_features(["user_profile:age"], [{"user_id": 2**64 - 1}] * 16)


# ---- per-entity failure isolation -----------------------------------------------------------------------------


def _corrupt(feature_store: FeatureStore, user: int, change) -> None:
    online = feature_store._get_provider().online_store
    view = online.compiled(feature_store.config, USER_PROFILE)
    field, bucket = view.keyspace.encode_values([user])
    client = redis.Redis.from_url(feature_store.config.online_store.tiers["warm"].url)
    key = view.keyspace.bucket_key(bucket)
    row = client.hget(key, field)
    assert row is not None
    client.hset(key, field, change(row))
    client.close()


@pytest.mark.parametrize("batch", [3, 40])
def test_an_undecodable_row_fails_only_its_entity(feature_store, port, batch, caplog):
    # user 5: invalid UTF-8 in the string feature (the row ends with it); user 7: event time 2**63-1 µs
    _corrupt(feature_store, 5, lambda row: row[:-2] + b"\xff\xfe")
    _corrupt(feature_store, 7, lambda row: row[:2] + (2**63 - 1).to_bytes(8, "big") + row[10:])
    users = [5, 7, 8, *range(20, 20 + batch - 3)]
    with caplog.at_level(logging.WARNING, logger="featurekit.serving.server"):
        response = _read(port, {"user_id": users})
    assert response.status == 200, response.body
    body = response.json()
    columns = dict(zip(body["metadata"]["feature_names"], body["results"], strict=True))
    assert columns["country"]["statuses"][:3] == ["INVALID", "INVALID", "PRESENT"]
    assert columns["country"]["values"][:3] == [None, None, ("GB", "US", "DE")[8 % 3]]
    assert columns["balance"]["statuses"][:3] == ["NOT_FOUND", "NOT_FOUND", "PRESENT"]  # other view unaffected
    assert all(s == "PRESENT" for s in columns["country"]["statuses"][3:])  # the rest of the batch is served
    logged = caplog.text
    assert "user_profile" in logged and "user_id=5" in logged and "user_id=7" in logged
    headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    metrics = exchange(port, request("GET", "/metrics", headers=headers))[0][0].body
    assert b'featurekit_online_row_errors_total{feature_view="user_profile"}' in metrics


# ---- writes ------------------------------------------------------------------------------------------------------


def _push_body(users: list[int], scores: list[float], when: datetime, to: str = "online") -> dict:
    from feast.feature_server import PushFeaturesRequest

    df = {
        "user_id": users,
        "score": scores,
        "note": [f"n{u}" for u in users],
        "event_ts": [when.isoformat()] * len(users),
    }
    return PushFeaturesRequest(push_source_name="score_push", df=df, to=to).model_dump()


def test_push_writes_online_with_newer_wins_and_the_offline_copy(port, offline_root):
    now = datetime.now(UTC).replace(microsecond=0)
    assert _post(port, "/push", _push_body([301, 302], [1.5, 2.5], now), token=WRITE_TOKEN).status == 200
    older = _push_body([301], [9.9], now - timedelta(hours=1), to="online_and_offline")
    assert _post(port, "/push", older, token=WRITE_TOKEN).status == 200
    got = _read(port, {"user_id": [301, 302]}, ["user_score:score", "user_score:note"]).json()
    columns = dict(zip(got["metadata"]["feature_names"], got["results"], strict=True))
    assert columns["score"]["values"] == [1.5, 2.5]  # the older push did not overwrite user 301
    assert columns["note"]["values"] == ["n301", "n302"]
    files = list(offline_root.glob("user_score/ds=*/push-*.parquet"))
    assert len(files) == 1
    table = pq.read_table(files[0])
    assert table.column("user_id").to_pylist() == [301] and table.column("score").to_pylist() == [9.9]
    assert {"event_timestamp", "created"} <= set(table.column_names)


def test_write_to_online_store_takes_feasts_shape(port):
    from feast.feature_server import WriteToFeatureStoreRequest

    now = datetime.now(UTC).replace(microsecond=0)
    body = WriteToFeatureStoreRequest(
        feature_view_name="user_score",
        df={"user_id": [401], "score": [4.0], "note": ["x"], "event_ts": [now.isoformat()]},
    ).model_dump()
    assert _post(port, "/write-to-online-store", body, token=WRITE_TOKEN).status == 200
    assert _read(port, {"user_id": [401]}, ["user_score:score"]).json()["results"][1]["values"] == [4.0]


def test_writes_need_the_write_token_and_refuse_bad_rows_whole(port):
    now = datetime.now(UTC)
    assert _post(port, "/push", _push_body([501], [1.0], now), token=TOKEN).status == 401  # read token cannot write
    assert _post(port, "/push", _push_body([501], [1.0], now), token=None).status == 401
    bad_id = _push_body([502, 2**64 - 1], [1.0, 2.0], now)
    response = _post(port, "/push", bad_id, token=WRITE_TOKEN)
    assert response.status == 400 and "df.user_id" in response.json()["detail"]
    bad_value = _push_body([503], [1.0], now)
    bad_value["df"]["score"] = ["abc"]
    response = _post(port, "/push", bad_value, token=WRITE_TOKEN)
    assert response.status == 400 and "df.score" in response.json()["detail"]
    unknown = _post(port, "/push", {**_push_body([504], [1.0], now), "push_source_name": "nope"}, token=WRITE_TOKEN)
    assert unknown.status == 404 and "nope" in unknown.json()["detail"]
    bad_to = _post(port, "/push", {**_push_body([505], [1.0], now), "to": "everywhere"}, token=WRITE_TOKEN)
    assert bad_to.status == 400 and '"to"' in bad_to.json()["detail"]
    got = _read(port, {"user_id": [502, 503]}, ["user_score:score"]).json()
    assert got["results"][1]["statuses"] == ["NOT_FOUND", "NOT_FOUND"]  # nothing of a refused push was written


def test_pushed_rows_failing_the_views_expectations_are_refused_whole(port, offline_root):
    now = datetime.now(UTC).replace(microsecond=0)
    body = _push_body([601, 602, 603], [5.0, 250.0, -1.0], now, to="online_and_offline")
    response = _post(port, "/push", body, token=WRITE_TOKEN)
    detail = response.json()["detail"]
    assert response.status == 422, detail
    assert "'user_score'" in detail and "2 of 3 row(s)" in detail
    assert "expect_column_values_to_be_between(column='score', min_value=0, max_value=100): 2 row(s)" in detail
    assert '"df" row 1 (score=250.0)' in detail  # the first failing row, by its position in the request
    script = _push_body([604], [1.0], now)
    script["df"]["note"] = ["<script>alert(1)</script>"]
    response = _post(port, "/push", script, token=WRITE_TOKEN)
    assert response.status == 422 and "expect_column_values_to_not_match_regex" in response.json()["detail"]

    from feast.feature_server import WriteToFeatureStoreRequest

    direct = WriteToFeatureStoreRequest(
        feature_view_name="user_score",
        df={"user_id": [605], "score": [101.0], "note": ["x"], "event_ts": [now.isoformat()]},
    ).model_dump()
    response = _post(port, "/write-to-online-store", direct, token=WRITE_TOKEN)
    assert response.status == 422 and '"df" row 0 (score=101.0)' in response.json()["detail"]
    got = _read(port, {"user_id": [601, 602, 603, 604, 605]}, ["user_score:score"]).json()
    assert got["results"][1]["statuses"] == ["NOT_FOUND"] * 5  # nothing of a refused request, not even its good rows
    offline = [pq.read_table(f).column("user_id").to_pylist() for f in offline_root.glob("user_score/ds=*/*.parquet")]
    assert not any(set(ids) & {601, 602, 603} for ids in offline)
    headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    metrics = exchange(port, request("GET", "/metrics", headers=headers))[0][0].body
    assert b'featurekit_serving_errors_total{endpoint="/push",reason="quality"}' in metrics


# ---- a hung Redis ------------------------------------------------------------------------------------------------


def test_a_hung_redis_costs_one_bounded_wait_and_health_keeps_answering(tmp_path):
    from featurekit.services.redis_server import RedisServer

    with RedisServer.start() as hung:
        repo = tmp_path / "repo"
        write_repo(repo, hung.url)
        yaml_path = repo / "feature_store.yaml"
        timeout = f"url: {hung.url}\n      socket_timeout_s: 1.0\n"
        yaml_path.write_text(yaml_path.read_text().replace(f"url: {hung.url}\n", timeout))
        store = FeatureStore(repo_path=str(repo))
        store.apply(OBJECTS)
        with running_server(store, request_timeout_s=0.5, redis_probe_interval_s=0.2) as server:
            ok = _post(server.port, "/get-online-features", {"features": FEATURES, "entities": {"user_id": [1]}}, None)
            assert ok.status == 200
            os.kill(hung.process.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                stalled = _post(
                    server.port, "/get-online-features", {"features": FEATURES, "entities": {"user_id": [1]}}, None
                )
                waited = time.monotonic() - started
                assert stalled.status == 503 and "serving.request_timeout_s" in stalled.json()["detail"]
                assert waited < 1.0, waited
                # a read over serving.inline_max_entities runs on the thread pool: bounded the same way
                many = {"features": FEATURES, "entities": {"user_id": list(range(1, 101))}}
                started = time.monotonic()
                stalled = _post(server.port, "/get-online-features", many, None)
                waited = time.monotonic() - started
                assert stalled.status == 503 and "serving.request_timeout_s" in stalled.json()["detail"]
                assert waited < 1.0, waited
                time.sleep(1.5)  # a probe times out (1 s) and records the state
                started = time.monotonic()
                health = exchange(server.port, request("GET", "/health", headers={"Connection": "close"}))[0][0]
                assert time.monotonic() - started < 0.5
                assert health.status == 200 and health.json()["status"] == "degraded"
                assert health.json()["redis"]["warm"]["status"] == "unavailable"
            finally:
                os.kill(hung.process.pid, signal.SIGCONT)
            time.sleep(1.5)
            one = {"features": FEATURES, "entities": {"user_id": [1]}}
            assert _post(server.port, "/get-online-features", one, None).status == 200
        store._get_provider().online_store.close()


def test_a_redis_timeout_is_not_retried(tmp_path):
    """One exchange against a stopped Redis waits one socket timeout, not two (no retry stacking)."""
    from featurekit.online_store.config import RedisTierConfig
    from featurekit.online_store.connection import connection_settings
    from featurekit.online_store.errors import RedisUnavailableError
    from featurekit.online_store.tiers import open_tier
    from featurekit.services.redis_server import RedisServer

    with RedisServer.start() as hung:
        tier = open_tier(connection_settings("hot", RedisTierConfig(url=hung.url, socket_timeout_s=0.5)))
        assert tier.command("PING") in (b"PONG", "PONG", True)
        os.kill(hung.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(RedisUnavailableError):
                tier.command("PING")
            assert time.monotonic() - started < 0.9
        finally:
            os.kill(hung.process.pid, signal.SIGCONT)
        tier.close()
