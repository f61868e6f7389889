"""The real ``featurekit_maintenance`` DAG against real Redis and a real registry: after an apply removes a view and a
pull request's project is torn down (both write the registry only), one DAG run deletes exactly their rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import redis

from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.repo.apply import apply_repo, checked_repo, for_pull_request, teardown_project
from featurekit.repo.feast_config import feature_store, repo_config
from support.batch_project import REPO_ROOT, BatchProject

REMOVED = "user_txn_24h"
KEPT = "user_txn_30d"


def write_rows(settings, view_name: str, users: list[int], *, age: timedelta = timedelta(0)) -> list[bytes]:
    """Write one row per user for ``view_name`` in ``settings.project``; return the bucket keys that now exist."""
    view = feature_store(settings).get_feature_view(view_name)
    at = datetime.now(UTC) - age
    columns = {
        f.name: pa.array([float(u) for u in users]) if "Float" in str(f.dtype) else pa.array(users)
        for f in view.features
    }
    table = pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            **columns,
            "event_timestamp": pa.array([at] * len(users), pa.timestamp("us", tz="UTC")),
            "created": pa.array([at] * len(users), pa.timestamp("us", tz="UTC")),
        }
    )
    store = TieredRedisOnlineStore()
    try:
        store.write_arrow(repo_config(settings), view, table)
        keys = store.compiled(repo_config(settings), view).keyspace.bucket_keys()
    finally:
        store.close()
    client = redis.Redis.from_url(settings.online_store.tiers["hot"].url)
    return [k for k in keys if client.exists(k)]


def remove_view(project: BatchProject) -> None:
    """Delete ``user_txn_24h`` from the feature repo and from the feature service that serves it."""
    repo = project.root / "feature_repo"
    path = repo / "feature_views" / "transactions.py"
    text = path.read_text()
    start, end = text.index("user_txn_24h = FeatureView("), text.index("user_txn_1h = StreamFeatureView(")
    path.write_text(text[:start] + text[end:])
    services = repo / "feature_services.py"
    text = services.read_text()
    for old, new in (("user_txn_1h, user_txn_24h, user_txn_30d", "user_txn_1h, user_txn_30d"), ("user_txn_24h, ", "")):
        assert old in text, old
        text = text.replace(old, new)
    services.write_text(text)


def run_maintenance() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "featurekit_maintenance.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("featurekit_maintenance")
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"reconcile": "success"}, states
    (ti,) = run.get_task_instances()
    return ti.xcom_pull(task_ids="reconcile")


def test_maintenance_dag_deletes_rows_of_removed_views_and_torn_down_projects_only(project: BatchProject) -> None:
    settings = project.settings
    client = redis.Redis.from_url(project.redis_url)
    users = list(range(1, 41))
    removed_keys = write_rows(settings, REMOVED, users)
    kept_keys = write_rows(settings, KEPT, users)
    pr = for_pull_request(settings, 7)
    apply_repo(pr, checked_repo(pr))
    pr_keys = write_rows(pr, KEPT, users)
    foreign = {b"session:42": b"not ours", b"fk-cache": b"prefix only", b"fk" + b"\x00" * 8: b"wrong length"}
    client.mset(foreign)
    assert removed_keys and kept_keys and pr_keys

    # CI's side: the apply and the teardown write the registry and leave Redis alone.
    remove_view(project)
    result = apply_repo(settings, checked_repo(settings), allow_breaking=True)
    assert result.removed_views == [REMOVED]
    assert teardown_project(pr).existed
    assert client.exists(*removed_keys) == len(removed_keys)
    assert client.exists(*pr_keys) == len(pr_keys)
    kept_before = {k: client.hgetall(k) for k in kept_keys}

    report = run_maintenance()

    assert client.exists(*removed_keys) == 0
    assert client.exists(*pr_keys) == 0
    assert {k: client.hgetall(k) for k in kept_keys} == kept_before
    assert client.mget(list(foreign)) == list(foreign.values())
    assert report["keys_deleted"] == len(removed_keys) + len(pr_keys)
    assert len(report["orphan_views"]) == 2 and report["remaining"] == 0
    assert f"{settings.project}/{KEPT}" in report["vacuumed"]

    # Idempotent: the next run finds nothing to delete and changes nothing.
    again = run_maintenance()
    assert again["keys_deleted"] == 0 and again["orphan_views"] == []
    assert {k: client.hgetall(k) for k in kept_keys} == kept_before


def test_reconcile_is_bounded_per_run_and_vacuums_expired_rows(project: BatchProject) -> None:
    from featurekit.pipelines.reconcile import reconcile_online_store

    settings = project.settings
    client = redis.Redis.from_url(project.redis_url)
    pr = for_pull_request(settings, 8)
    apply_repo(pr, checked_repo(pr))
    pr_keys = write_rows(pr, KEPT, list(range(1, 201)))
    assert len(pr_keys) > 10
    # In the main project, a bucket with one fresh row and three rows older than the view's ttl (read as missing):
    # the bucket stays alive for the fresh row, the vacuum reclaims the expired ones.
    view = feature_store(settings).get_feature_view(KEPT)
    keyspace = TieredRedisOnlineStore().compiled(repo_config(settings), view).keyspace
    bucket = keyspace.encode_values([2001])[1]
    neighbours = [u for u in range(3000, 200_000) if keyspace.encode_values([u])[1] == bucket][:3]
    (fresh_key,) = write_rows(settings, KEPT, [2001])
    # The writer drops rows already past the ttl, so these are written two seconds before they expire.
    assert write_rows(settings, KEPT, neighbours, age=view.ttl - timedelta(seconds=2)) == [fresh_key]
    assert client.hlen(fresh_key) == 1 + 1 + 3  # order-key field, fresh row, soon-expired rows
    time.sleep(2.5)
    teardown_project(pr)

    first = reconcile_online_store(settings, max_keys=10)
    assert (first.keys_deleted, first.remaining) == (10, len(pr_keys) - 10)
    assert client.exists(*pr_keys) == len(pr_keys) - 10
    assert first.vacuumed[f"{settings.project}/{KEPT}"] == 3
    assert client.hlen(fresh_key) == 2
    second = reconcile_online_store(settings, max_keys=len(pr_keys))
    assert (second.keys_deleted, second.remaining) == (len(pr_keys) - 10, 0)
    assert client.exists(*pr_keys) == 0
    assert client.hlen(fresh_key) == 2 and second.vacuumed[f"{settings.project}/{KEPT}"] == 0
