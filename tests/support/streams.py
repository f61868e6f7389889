"""Helpers shared by the streaming tests: run an application to the end of its topics, read topics and stores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from featurekit.config import Settings, load_settings
from featurekit.streaming.jobs import StreamApplication


def settings_for(data_dir: Path, redis_url: str, bootstrap: str, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "registry": {"path": str(data_dir / "registry.db"), "cache_ttl_seconds": 0},
        "warehouse": {"path": str(data_dir / "warehouse.duckdb")},
        "offline_store": {"root": str(data_dir / "offline")},
        "streaming": {"checkpoint_location": str(data_dir / "checkpoints"), "trigger_seconds": 0.5},
        "kafka": {"bootstrap_servers": bootstrap},
        "online_store": {"tiers": {"hot": {"url": redis_url}, "warm": {"url": redis_url}}},
    }
    for key, value in extra.items():
        overrides.setdefault(key, {}).update(value) if isinstance(value, dict) else overrides.update({key: value})
    return load_settings("local", overrides=overrides)


def drain(settings: Settings, spark: Any, name: str, *, timeout_s: float = 120, **options: Any) -> StreamApplication:
    """Run application ``name`` with an available-now trigger until it has processed everything in its topics."""
    job = StreamApplication(settings, name, spark=spark, available_now=True, **options).start()
    deadline = time.monotonic() + timeout_s
    try:
        while job.poll():
            assert time.monotonic() < deadline, f"stream {name} did not finish within {timeout_s}s: {dict(job.stats)}"
            time.sleep(0.2)
    finally:
        job.stop()
    return job


def read_topic(settings: Settings, topic: str, timeout_s: float = 15) -> list[Any]:
    """Every message of ``topic`` (all partitions, read to partition EOF with assign, no consumer group)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": "featurekit-tests",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        pending, messages = set(partitions), []
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error() is None:
                    messages.append(msg)
                elif msg.error().code() == -191:  # partition EOF
                    pending.discard(msg.partition())
        assert not pending, f"no EOF on {topic} partitions {pending} within {timeout_s}s"
        return messages
    finally:
        consumer.close()


def online_rows(settings: Settings, features: list[str], user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Feature values per user through Feast's ``get_online_features`` (what an ML service sees)."""
    from featurekit.repo.feast_config import feature_store

    response = (
        feature_store(settings)
        .get_online_features(features=features, entity_rows=[{"user_id": u} for u in user_ids])
        .to_dict()
    )
    names = [f.split(":", 1)[1] for f in features]
    return {u: {n: response[n][i] for n in names} for i, u in enumerate(response["user_id"])}


def offline_rows(settings: Settings, view: str) -> list[dict[str, Any]]:
    """The stream's rows of ``view`` in the offline store (``stream-`` files, ``created`` left out), sorted."""
    import pyarrow.dataset as ds

    root = settings.offline_store.root / view
    files = sorted(str(p) for p in root.glob("ds=*/stream-*.parquet"))
    if not files:
        return []
    rows = ds.dataset(files, format="parquet").to_table().drop_columns(["created"]).to_pylist()
    return sorted(rows, key=lambda r: (r["user_id"], r["event_timestamp"], tuple(map(str, r.values()))))


def wait_until(predicate: Any, *, timeout_s: float, what: str, job: StreamApplication | None = None) -> None:
    """Poll ``predicate`` (supervising ``job`` meanwhile) until it is true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if job is not None:
            job.poll()
        if predicate():
            return
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.3)
