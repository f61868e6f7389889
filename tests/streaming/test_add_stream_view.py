"""Proof by addition: a new stream feature (new topic, new event schema, a windowed count) is added by touching only
a copy of ``feature_repo/``; the kit generates its job, runs it on local Spark against the real broker, serves the
feature through ``get_online_features`` and sends a poison event to the new topic's dead-letter topic."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from featurekit.config import project_root
from featurekit.streaming.producer import EventProducer, ensure_topics, iso
from support.streams import drain, online_rows, read_topic, settings_for

VIEW = '''"""Logins per user over the last ten minutes (tumbling), from the new ``logins`` topic."""

from datetime import timedelta

from entities import user
from feast import Aggregation, Field
from feast.stream_feature_view import StreamFeatureView
from feast.types import Int64

from featurekit.config.active import current_settings
from featurekit.offline.sources import kafka_source, offline_source
from featurekit.repo.streams import event_rules

settings = current_settings()
TEN_MINUTES = timedelta(minutes=10)

login_events = kafka_source(
    settings,
    name="login_events",
    topic="logins",
    schema="user_id bigint, device string, success boolean, event_timestamp timestamp",
    rules=event_rules(choices={"device": ["ios", "android", "web"]}),
    watermark=timedelta(minutes=5),
    batch_source=offline_source(settings, "user_logins_10m", "Login counts: the stream's offline sink."),
    description="App logins as they happen.",
)

user_logins_10m = StreamFeatureView(
    name="user_logins_10m",
    entities=[user],
    ttl=timedelta(hours=1),
    schema=[
        Field(name="user_id", dtype=Int64, description="Join key of the user entity."),
        Field(name="login_count_10m", dtype=Int64, description="Logins in the current ten-minute window."),
    ],
    source=login_events,
    timestamp_field="event_timestamp",
    aggregations=[
        Aggregation(
            column="device", function="count", time_window=TEN_MINUTES, slide_interval=TEN_MINUTES,
            name="login_count_10m",
        ),
    ],
    online=True,
    description="Login activity; a burst of logins is a takeover signal.",
    owner="risk-ml@featurekit.example",
    tags={"tier": "hot", "schedule": "stream", "freshness_slo": "5m"},
)
'''
SQL = """-- user_logins_10m (stream view) backfill: no warehouse table holds logins yet, so the backfill is empty.
SELECT
    CAST(NULL AS BIGINT) AS user_id,
    CAST(NULL AS BIGINT) AS login_count_10m,
    CAST(NULL AS TIMESTAMP) AS event_timestamp
WHERE FALSE
"""

# Checked on every micro-batch of the generated job (and on the backfill): what a data scientist adds with the view.
SUITE = """view: user_logins_10m
expectations:
  - expect_column_values_to_not_be_null: {column: user_id}
  - expect_column_values_to_be_between: {column: login_count_10m, min_value: 1}
"""


def add_view(tmp_path: Path) -> Path:
    repo = tmp_path / "feature_repo"
    shutil.copytree(project_root() / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "feature_views" / "logins.py").write_text(VIEW)
    (repo / "feature_views" / "user_logins_10m.sql").write_text(SQL)
    (repo / "feature_views" / "user_logins_10m.expectations.yaml").write_text(SUITE)
    return repo


def test_a_stream_view_added_in_the_feature_repo_only_is_served_end_to_end(tmp_path, redis_url, kafka_broker, spark):
    from featurekit.repo.apply import apply_repo
    from featurekit.streaming.jobs import stream_jobs, stream_topics

    repo = add_view(tmp_path)
    settings = settings_for(tmp_path, redis_url, kafka_broker.bootstrap_servers, feature_repo=str(repo))
    apply_repo(settings)
    jobs = stream_jobs(settings)
    job = jobs["user_logins_10m"]
    assert (job.topic, job.spec.kind, job.spec.describe_kind()) == ("logins", "window", "tumbling 10m/10m")
    assert [q.name for q in job.queries()] == ["user_logins_10m", "user_logins_10m_dead_letters"]
    assert {"user_balance_live", "user_txn_1h"} <= set(jobs)  # the bundled views are still generated
    ensure_topics(settings, stream_topics(settings, {job.name: job}))

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 10)  # the current ten-minute window
    logins = [(1, "ios", 1), (1, "web", 2), (1, "ios", 3), (2, "android", 4)]
    producer = EventProducer(settings)
    for user, device, minute in logins:
        event = {
            "user_id": user,
            "device": device,
            "success": True,
            "event_timestamp": iso(start + timedelta(seconds=minute)),
        }
        producer.send("logins", orjson.dumps(event), str(user).encode())
    poison = orjson.dumps({"user_id": 1, "device": "fax", "success": True, "event_timestamp": iso(start)})
    producer.send("logins", poison, b"1")
    producer.flush()

    ran = drain(settings, spark, "user_logins_10m", timeout_s=240)

    served = online_rows(settings, ["user_logins_10m:login_count_10m"], [1, 2])
    assert served == {1: {"login_count_10m": 3}, 2: {"login_count_10m": 1}}
    (letter,) = read_topic(settings, "logins.dlq")
    assert letter.value() == poison
    assert dict(letter.headers())["featurekit.error"].decode().startswith("wrong_type: 'device'='fax'")
    assert sum(ran.stats["user_logins_10m_dead_letters"].dead_letters.values()) == 1
