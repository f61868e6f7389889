"""For every user, the online values equal the latest offline values as of the materialization end (exact).

The platform is built the way the demo builds it (warehouse -> extract -> materialize for three days of history),
then every feature of every view is compared for every user, through stock Feast's ``get_online_features`` reading
via the kit's online store. Values outside a view's ttl must be null online, as they are in a point-in-time join.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest
import redis

from examples.cash_advance.warehouse import WarehouseSpec, generate
from featurekit.intervals import floor_to
from featurekit.pipelines.backfill import backfill
from featurekit.repo.apply import apply_repo, checked_repo
from featurekit.repo.feast_config import feature_store
from featurekit.warehouse.load import load_duckdb

USERS = 300


@pytest.fixture(scope="module")
def built(tmp_path_factory, redis_server, make_settings):
    data_dir = tmp_path_factory.mktemp("exact")
    # The session's Redis may hold newer rows of the same project from earlier modules (newer-wins keeps them): the
    # comparison is only exact against what this module builds.
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    end = floor_to(datetime.now(UTC), "hourly")
    spec = WarehouseSpec(users=USERS, days=10, end=end.replace(tzinfo=None), seed=5)
    settings = make_settings(data_dir, redis_server.url)
    load_duckdb(generate(spec), settings.warehouse.path)
    repo = checked_repo(settings)
    apply_repo(settings, repo)
    backfill(settings, [*repo.batch_views, *repo.stream_views], end - timedelta(days=3), end)
    return settings, repo, end


def _expected(settings, view, now: datetime) -> dict[int, dict]:
    """Latest offline row per user (event time, then created), null when older than the view's ttl."""
    glob = str(settings.offline_store.root / view.name / "*" / "*.parquet")
    rows = (
        duckdb.sql(
            f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false) "
            "QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY event_timestamp DESC, created DESC) = 1"
        )
        .to_arrow_table()
        .to_pylist()
    )
    cutoff = now - view.ttl
    return {row["user_id"]: row for row in rows if row["event_timestamp"] > cutoff}


def test_every_online_value_equals_the_latest_offline_value(built) -> None:
    settings, repo, _end = built
    store = feature_store(settings)
    user_ids = list(range(100_001, 100_001 + USERS))
    now = datetime.now(UTC)
    compared = 0
    for view in [*repo.batch_views, *repo.stream_views]:
        names = [f.name for f in view.features if f.name != "user_id"]
        online = store.get_online_features(
            features=[f"{view.name}:{n}" for n in names], entity_rows=[{"user_id": u} for u in user_ids]
        ).to_dict()
        expected = _expected(settings, view, now)
        # A daily backfill of a view whose ttl is shorter than a day (user_txn_1h: the stream keeps it fresh) may
        # hold nothing inside the ttl; then every online value must be null, which the loop below checks.
        if view.ttl >= timedelta(days=1):
            assert expected, f"{view.name}: the offline store has no rows inside the ttl"
        for index, user_id in enumerate(user_ids):
            row = expected.get(user_id)
            for name in names:
                want = None if row is None else row[name]
                assert online[name][index] == want, f"{view.name}.{name} user {user_id}"
                compared += 1
    assert compared == USERS * 21  # 21 features over the five views, every user
