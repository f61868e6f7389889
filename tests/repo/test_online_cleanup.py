"""Apply writes the registry only (CI cannot reach the VPC's Redis): a removed view's rows stay until the in-VPC
reconciliation (the maintenance DAG's task) deletes them, and only once the removal is really in the registry."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import redis

from featurekit.online_store.store import TieredRedisOnlineStore
from featurekit.pipelines.reconcile import reconcile_online_store
from featurekit.repo.apply import apply_repo
from featurekit.repo.feast_config import feature_store, repo_config
from featurekit.repo.loader import load_repo
from featurekit.repo.registry_lock import RegistryConflictError
from support.cicd import edit

VIEW = "user_txn_24h"


def remove_view(repo: Path) -> None:
    """Delete ``user_txn_24h`` and take it out of ``cash_advance_v1`` (a breaking change, allowed below)."""
    path = repo / "feature_views" / "transactions.py"
    text = path.read_text()
    start, end = text.index("user_txn_24h = FeatureView("), text.index("user_txn_1h = StreamFeatureView(")
    path.write_text(text[:start] + text[end:])
    edit(repo, "feature_services.py", "user_txn_1h, user_txn_24h, user_txn_30d", "user_txn_1h, user_txn_30d")
    edit(repo, "feature_services.py", "user_txn_24h, user_txn_1h,", "user_txn_1h,")


def keys_with_rows(settings, client: redis.Redis) -> tuple[list[bytes], int]:
    """Write three users' rows of ``user_txn_24h`` and return the view's keys and how many exist."""
    view = feature_store(settings).get_feature_view(VIEW)
    now = datetime.now(UTC)
    table = pa.table(
        {
            "user_id": pa.array([1, 2, 3], pa.int64()),
            **{
                f.name: pa.array([1.0, 2.0, 3.0]) if "Float" in str(f.dtype) else pa.array([1, 2, 3])
                for f in view.features
            },
            "event_timestamp": pa.array([now] * 3, pa.timestamp("us", tz="UTC")),
            "created": pa.array([now] * 3, pa.timestamp("us", tz="UTC")),
        }
    )
    store = TieredRedisOnlineStore()
    try:
        store.write_arrow(repo_config(settings), view, table)
        keys = store.compiled(repo_config(settings), view).keyspace.bucket_keys()
    finally:
        store.close()
    return keys, int(client.exists(*keys))


def test_rows_of_a_removed_view_are_reconciled_away_only_after_its_apply_wins(
    make_env, feature_repo_copy, tmp_path, redis_url
) -> None:
    base = make_env("dev", feature_repo_copy)
    apply_repo(base, load_repo(base))
    client = redis.Redis.from_url(redis_url)
    keys, present = keys_with_rows(base, client)
    assert present > 0

    removing = tmp_path / "removing"
    shutil.copytree(feature_repo_copy, removing)
    remove_view(removing)
    settings = make_env("dev", removing, registry=base.registry.path)
    loaded = load_repo(settings)

    # Someone else applies between our plan and our write: we conflict, and the view's rows stay.
    def someone_else_applies_first(plan) -> None:
        assert [(o.action, o.name) for o in plan.objects if o.action == "remove"] == [("remove", VIEW)]
        edit(feature_repo_copy, "feature_views/profile.py", "ttl=timedelta(days=3)", "ttl=timedelta(days=4)")
        assert apply_repo(base, load_repo(base)).applied

    with pytest.raises(RegistryConflictError):
        apply_repo(settings, loaded, allow_breaking=True, on_planned=someone_else_applies_first)
    assert reconcile_online_store(base).keys_deleted == 0  # the view is still registered
    assert client.exists(*keys) == present

    # Re-planned on the new registry, the removal wins; the apply leaves Redis alone, the reconciliation deletes.
    result = apply_repo(settings, load_repo(settings), allow_breaking=True)
    assert result.removed_views == [VIEW]
    assert client.exists(*keys) == present
    assert reconcile_online_store(base).keys_deleted == present
    assert client.exists(*keys) == 0
    assert VIEW not in {v.name for v in feature_store(settings).list_feature_views()}


def test_reconcile_on_a_cluster_tier_deletes_orphans_and_standalone_layout_keys_only(
    make_env, feature_repo_copy
) -> None:
    """On a Redis Cluster tier the store writes the cluster key layout (a slot hash tag per bucket): reconcile
    recognises those keys as the store's, deletes the ones of views the registry does not have, and deletes
    standalone-layout keys of live views (written before the cluster layout existed; never read again)."""
    from featurekit.online_store.keyspace import ViewKeyspace
    from featurekit.services.redis_cluster import LocalRedisCluster

    with LocalRedisCluster.start() as cluster:
        base = make_env("dev", feature_repo_copy)
        tier = base.online_store.tiers["hot"].model_copy(update={"url": cluster.url, "cluster": True})
        store_cfg = base.online_store.model_copy(update={"tiers": {"hot": tier, "warm": tier}})
        settings = base.model_copy(update={"online_store": store_cfg})
        apply_repo(settings, load_repo(settings))
        client = cluster.client()
        live, _ = keys_with_rows(settings, client)
        live_present = int(client.exists(*live))
        assert live_present > 0 and all(len(k) == 13 for k in live)
        view = feature_store(settings).get_feature_view(VIEW)
        compiled = TieredRedisOnlineStore().compiled(repo_config(settings), view).keyspace
        stale = ViewKeyspace(compiled.project, VIEW, compiled.join_keys, compiled.bucket_bits).bucket_keys()[:3]
        orphan = ViewKeyspace(compiled.project, "gone_view", compiled.join_keys, 4, cluster=True).bucket_keys()[:2]
        for key in [*stale, *orphan]:
            client.hset(key, b"field", b"row")
        client.set(b"fk-not-ours", b"x")

        result = reconcile_online_store(settings, vacuum=False)

        assert result.stale_layout_keys == 3 and result.keys_deleted == 5
        assert [i.hex() for i in result.orphan_ids] == [orphan[0][6:10].hex()]
        assert client.exists(*stale, *orphan) == 0
        assert client.exists(*live) == live_present and client.get(b"fk-not-ours") == b"x"
        client.close()
