"""Each pull request applies to its own project in the dev registry; closing it tears the project down, online keys
included, without touching the other pull requests or the main dev project."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
import redis

from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.pipelines.reconcile import reconcile_online_store
from featurekit.repo.apply import ProtectedEnvironmentError, apply_repo, for_pull_request, teardown_project
from featurekit.repo.feast_config import feature_store, repo_config
from featurekit.repo.loader import load_repo
from support.cicd import edit

VIEW = "user_txn_24h"
USERS = [100_001, 100_002, 100_003]


def write_rows(settings) -> None:
    """Three users' rows for ``user_txn_24h`` in ``settings.project``, through the real online store."""
    view = feature_store(settings).get_feature_view(VIEW)
    now = datetime.now(UTC)
    columns = {"user_id": pa.array(USERS, pa.int64())}
    for feature in view.features:
        columns[feature.name] = pa.array([1.0] * len(USERS)) if "Float" in str(feature.dtype) else pa.array([1] * 3)
    columns["event_timestamp"] = pa.array([now] * len(USERS), pa.timestamp("us", tz="UTC"))
    columns["created"] = pa.array([now] * len(USERS), pa.timestamp("us", tz="UTC"))
    store = TieredRedisOnlineStore()
    try:
        store.write_arrow(repo_config(settings), view, pa.table(columns))
    finally:
        store.close()


def bucket_keys(settings) -> list[bytes]:
    """Every Redis key ``user_txn_24h`` can use in ``settings.project`` (the store's keyspace is enumerable)."""
    store = TieredRedisOnlineStore()
    try:
        view = feature_store(settings).get_feature_view(VIEW)
        return store.compiled(repo_config(settings), view).keyspace.bucket_keys()
    finally:
        store.close()


def test_pull_requests_get_isolated_projects_and_teardown_removes_one(
    make_env, feature_repo_copy, tmp_path, redis_url
) -> None:
    main_dev = make_env("dev")
    apply_repo(main_dev, load_repo(main_dev))
    edit(
        feature_repo_copy,
        "feature_views/transactions.py",
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n',
        '        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),\n'
        '        Field(name="max_credit_24h", dtype=Float64, description="Largest single credit over 24 hours."),\n',
    )
    pr1 = for_pull_request(make_env("dev", feature_repo_copy, registry=main_dev.registry.path), 1)
    pr2 = for_pull_request(make_env("dev", registry=main_dev.registry.path), 2)
    assert (pr1.project, pr2.project) == ("cash_advance_pr1", "cash_advance_pr2")
    assert apply_repo(pr1, load_repo(pr1)).plan.summary == "17 to add, 0 to change, 0 to remove"
    assert apply_repo(pr2, load_repo(pr2)).applied

    def features(settings) -> set[str]:
        return {f.name for f in feature_store(settings).get_feature_view(VIEW).features}

    assert "max_credit_24h" in features(pr1)
    assert "max_credit_24h" not in features(pr2) and "max_credit_24h" not in features(main_dev)

    client = redis.Redis.from_url(redis_url)
    keys = {s.project: bucket_keys(s) for s in (main_dev, pr1, pr2)}
    assert len({k[0] for k in keys.values()}) == 3, "each project has its own keyspace"
    for settings in (main_dev, pr1, pr2):
        write_rows(settings)
    counts = {project: int(client.exists(*k)) for project, k in keys.items()}
    assert all(counts.values()), counts

    result = teardown_project(pr1)
    assert result.existed and VIEW in result.views
    assert client.exists(*keys[pr1.project]) == counts[pr1.project], "teardown writes the registry only"
    reconciled = reconcile_online_store(main_dev)
    assert reconciled.keys_deleted == counts[pr1.project]
    assert client.exists(*keys[pr1.project]) == 0
    assert client.exists(*keys[pr2.project]) == counts[pr2.project]
    assert client.exists(*keys[main_dev.project]) == counts[main_dev.project]

    projects = {p.name for p in feature_store(main_dev).list_projects()}
    assert projects == {"cash_advance", "cash_advance_pr2"}
    assert feature_store(pr1).list_feature_views() == []
    assert len(feature_store(pr2).list_feature_views()) == 3

    again = teardown_project(pr1)
    assert not again.existed and again.views == []


def test_pull_request_projects_are_refused_in_protected_environments(make_env) -> None:
    with pytest.raises(ProtectedEnvironmentError, match="protected"):
        for_pull_request(make_env("prod"), 3)
