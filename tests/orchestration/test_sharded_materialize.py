"""Sharded materialization on the real hourly DAG: N mapped ``materialize`` task instances write exactly what the
single task writes (every Redis key and value compared), a shard rerun alone restores its part and changes nothing
else, and every shard applies the quality gate itself."""

from __future__ import annotations

import pytest
import redis

from featurekit.offline.records import latest_record
from featurekit.pipelines.shards import Shard, shard_buckets
from support.batch_project import HOUR, BatchProject
from support.redis_state import redis_snapshot

VIEW = "user_txn_24h"
# Rerun only the steps after the quality gate: the partition (and so every row's ``created``) stays the same.
AFTER_THE_GATE = r".*\.(extract|monitor|validate)$"


def tag_shards(project: BatchProject, count: int) -> None:
    """Give the view a ``shards`` tag in the project's feature repo and apply it (as a merged PR + CI would)."""
    from featurekit.repo.apply import apply_repo, checked_repo

    path = project.root / "feature_repo" / "feature_views" / "transactions.py"
    source = path.read_text()
    assert source.count('"schedule": "hourly",') == 1
    path.write_text(source.replace('"schedule": "hourly",', f'"schedule": "hourly", "shards": "{count}",'))
    apply_repo(project.settings, checked_repo(project.settings))


def keyspace(project: BatchProject):
    from featurekit.online_store.store import TieredRedisOnlineStore
    from featurekit.repo.feast_config import repo_config

    return TieredRedisOnlineStore().compiled(repo_config(project.settings), project.view(VIEW)).keyspace


def validation(project: BatchProject):
    from featurekit.offline.layout import partition_value
    from featurekit.offline.storage import offline_location
    from featurekit.offline.validation import read_record

    location = offline_location(project.settings.offline_store)
    return read_record(location, VIEW, partition_value(HOUR.start, "hourly"))


def delete_buckets(project: BatchProject, buckets: list[int]) -> int:
    space = keyspace(project)
    client = redis.Redis.from_url(project.redis_url)
    try:
        return client.delete(*[space.bucket_key(b) for b in buckets])
    finally:
        client.close()


def test_four_shards_equal_one_task_and_one_shard_reruns_alone(project: BatchProject) -> None:
    from featurekit.orchestration import tasks

    run = project.run("hourly", HOUR)
    assert run.state == "success", run.tasks
    assert run.mapped[f"{VIEW}.materialize"] == ["success"]  # a small view runs as one shard
    one_task = redis_snapshot(project.redis_url)
    unsharded = latest_record(project.settings, VIEW)
    space = keyspace(project)
    view_keys = {k for k in one_task if k.startswith(space.prefix)}
    assert len(view_keys) > 4 and unsharded.entities > 0

    validated = validation(project)
    tag_shards(project, 4)
    assert delete_buckets(project, list(range(space.bucket_count))) == len(view_keys)
    run = project.run("hourly", HOUR, mark_success=AFTER_THE_GATE)

    assert run.state == "success", run.tasks
    assert run.mapped[f"{VIEW}.materialize"] == ["success"] * 4
    assert run.labels[f"{VIEW}.materialize"] == ["shard 1/4", "shard 2/4", "shard 3/4", "shard 4/4"]
    assert run.tasks[f"{VIEW}.record"] == "success"
    assert validation(project) == validated  # the same batch: neither extracted nor validated again
    assert redis_snapshot(project.redis_url) == one_task
    sharded = latest_record(project.settings, VIEW)
    assert (sharded.rows, sharded.entities) == (unsharded.rows, unsharded.entities)
    assert sharded.finished_at > unsharded.finished_at

    # One shard, rerun alone (what Airflow runs when that mapped task instance is retried or cleared): first after
    # losing its keys, then again over its own writes. Neither touches another shard's keys.
    shard = Shard(2, 4)
    mine = shard_buckets(space, shard)
    assert 0 < delete_buckets(project, mine) < len(view_keys)
    assert redis_snapshot(project.redis_url) != one_task
    result = tasks.materialize(VIEW, HOUR, None, shard.to_dict())
    assert result["shard"] == {"index": 2, "count": 4} and 0 < result["entities"] < unsharded.entities
    assert redis_snapshot(project.redis_url) == one_task
    tasks.materialize(VIEW, HOUR, None, shard.to_dict())
    assert redis_snapshot(project.redis_url) == one_task

    # The gate holds per shard: a re-extracted batch nobody validated is refused by the plan and by every shard.
    from airflow.sdk.exceptions import AirflowFailException

    tasks.extract(VIEW, HOUR)
    for attempt in (
        lambda: tasks.plan_shards(VIEW, HOUR),
        lambda: tasks.materialize(VIEW, HOUR, None, {"index": 0, "count": 4}),
    ):
        with pytest.raises(AirflowFailException, match="re-extracted"):
            attempt()
    assert redis_snapshot(project.redis_url) == one_task
