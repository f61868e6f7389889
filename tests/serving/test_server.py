"""The feature server (`featurekit serve`, a real process): Feast's HTTP contract, Feast's own remote client,
bearer auth, health and metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from feast import FeatureStore

from featurekit.services.ports import free_port

TOKEN = "s3cret-token"
FEATURES = ["user_profile:age", "user_profile:credit_limit", "user_balance:balance", "user_profile:country"]


@pytest.fixture(scope="module")
def feature_store(redis_server, tmp_path_factory) -> Iterator[FeatureStore]:
    """One Feast project for the whole module (the server is slow to start, so it is shared too)."""
    import redis
    from feast import FeatureStore as Store

    from support.serving_project import OBJECTS, write_fixture_data, write_repo

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    repo = tmp_path_factory.mktemp("served") / "repo"
    write_repo(repo, redis_server.url)
    store = Store(repo_path=str(repo))
    store.apply(OBJECTS)
    write_fixture_data(store, datetime.now(UTC).replace(microsecond=0))
    yield store
    store._get_provider().online_store.close()


@pytest.fixture(scope="module")
def server_url(feature_store: FeatureStore, tmp_path_factory) -> Iterator[str]:
    """`featurekit serve` on the module's repo, requiring the bearer token of the settings (`serving.auth_token`,
    `${FEATUREKIT_SERVING_TOKEN}` in the environment file)."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "featurekit.cli.main", "serve", "--repo", str(feature_store.repo_path)),
            *("--port", str(port)),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "FEATUREKIT_SERVING_TOKEN": TOKEN},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not start: {log.read_text()[-2000:]}"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post(url: str, body: dict, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/get-online-features", json=body, headers=headers)


def _by_name(body: dict) -> dict:
    """Feast orders a view's features by set iteration (differs between processes): compare by name."""
    return dict(zip(body["metadata"]["feature_names"], body["results"], strict=True))


def test_response_is_feasts_json_contract(feature_store, server_url):
    from feast.feature_server_utils import convert_response_to_dict

    entities = {"user_id": [2, 3, 13, 999]}
    expected = convert_response_to_dict(feature_store.get_online_features(FEATURES, entities).proto)
    got = _post(server_url, {"features": FEATURES, "entities": entities})
    assert got.status_code == 200
    assert _by_name(got.json()) == _by_name(expected)


def test_feasts_remote_online_client_reads_through_the_server(feature_store, server_url, tmp_path):
    """Feast's own remote client, authenticating with its kubernetes ``user_token`` (sent as a bearer token)."""
    client_repo = tmp_path / "client"
    client_repo.mkdir()
    (client_repo / "feature_store.yaml").write_text(
        "project: fkserving\nprovider: local\nentity_key_serialization_version: 3\n"
        f"registry: {feature_store.config.registry.path}\n"
        f"online_store:\n  type: remote\n  path: {server_url}\n"
        f"auth:\n  type: kubernetes\n  user_token: {TOKEN}\n"
    )
    client = FeatureStore(repo_path=str(client_repo))
    rows = [{"user_id": i} for i in (2, 4, 999)]
    assert (
        client.get_online_features(FEATURES, rows).to_dict()
        == feature_store.get_online_features(FEATURES, rows).to_dict()
    )
    svc_rows = [{"user_id": i, "requested_amount": 20.0} for i in (2, 3)]
    assert client.get_online_features(client.get_feature_service("cash_advance_v1"), svc_rows).to_dict() == (
        feature_store.get_online_features(feature_store.get_feature_service("cash_advance_v1"), svc_rows).to_dict()
    )


def test_bearer_token_required(server_url):
    body = {"features": FEATURES, "entities": {"user_id": [2]}}
    denied = _post(server_url, body, token=None)
    assert denied.status_code == 401 and "results" not in denied.text and "credit_limit" not in denied.text
    assert _post(server_url, body, token="nope").status_code == 401
    ok = _post(server_url, body)
    assert ok.status_code == 200 and ok.json()["metadata"]["feature_names"][0] == "user_id"
    assert httpx.get(f"{server_url}/health").status_code == 200
    assert httpx.get(f"{server_url}/metrics").status_code == 401


def test_bad_requests_get_clear_errors(server_url):
    unknown = _post(server_url, {"features": ["user_profile:nope"], "entities": {"user_id": [1]}})
    assert unknown.status_code == 404 and "user_profile:nope" in unknown.json()["detail"]
    missing_key = _post(server_url, {"features": FEATURES, "entities": {"customer": [1]}})
    assert missing_key.status_code == 400 and "'user_id'" in missing_key.json()["detail"]
    bad_json = httpx.post(
        f"{server_url}/get-online-features",
        content=b"{not json",
        headers={"content-type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    assert bad_json.status_code == 400
    service = _post(server_url, {"feature_service": "nope_service", "entities": {"user_id": [1]}})
    assert service.status_code == 404 and "nope_service" in service.json()["detail"]


def test_metrics_and_keep_alive(server_url):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server_url, headers=headers) as client:
        for i in range(20):
            r = client.post("/get-online-features", json={"features": FEATURES, "entities": {"user_id": [i]}})
            assert r.status_code == 200
        metrics = client.get("/metrics").text
    assert 'featurekit_serving_request_seconds_count{endpoint="/get-online-features",feature_service="-"}' in metrics
    assert "featurekit_serving_entities_total" in metrics


def test_serve_refuses_to_start_when_a_used_tier_has_no_url(tmp_path, redis_server):
    """The preflight names the missing setting instead of failing on the first request."""
    from typer.testing import CliRunner

    from featurekit.cli.main import app
    from support.serving_project import OBJECTS, write_repo

    redis_url = redis_server.url  # no flush: the module's served data stays in place
    repo = tmp_path / "repo"
    write_repo(repo, redis_url)
    FeatureStore(repo_path=str(repo)).apply(OBJECTS)
    yaml_path = repo / "feature_store.yaml"
    yaml_path.write_text(yaml_path.read_text().replace(f"hot:\n      url: {redis_url}", 'hot:\n      url: ""'))
    result = CliRunner().invoke(app, ["serve", "--repo", str(repo), "--port", str(free_port())])
    assert result.exit_code == 1
    assert "online_store.tiers.hot.url" in result.output and "FEATUREKIT_REDIS_URL" in result.output
