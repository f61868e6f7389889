"""Publish dead letters to ``<topic><dlq_suffix>``: the original key and value bytes, the reason in headers.

The value is left byte-for-byte as it arrived, so replaying a fixed or reclassified letter is re-producing its value
to the source topic (``featurekit stream replay-dlq``). Headers: ``featurekit.error`` (the reason),
``featurekit.source.topic``/``.partition``/``.offset`` (where it came from; also the de-duplication key for readers,
since a batch replayed after a crash between publish and checkpoint publishes its letters again) and
``featurekit.source.timestamp``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from featurekit.config.settings import KafkaSettings
from featurekit.streaming.errors import DeadLetterError
from featurekit.streaming.events import reason_kind

log = logging.getLogger("featurekit.streaming.dead_letters")
ERROR_HEADER = "featurekit.error"


def producer_config(kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
        "acks": "all",
        "linger.ms": 20,
        "log_level": 3,
        **extra,
    }


def dlq_topic(kafka: KafkaSettings, topic: str) -> str:
    return f"{topic}{kafka.dlq_suffix}"


def publish_dead_letters(
    kafka: KafkaSettings, letters: pa.Table, *, timeout_s: float = 300.0, producer: Any = None
) -> Counter[tuple[str, str]]:
    """Produce every row of ``letters`` (topic, partition, offset, kafka_timestamp, key, value, error) to its DLQ.

    Waits for delivery, retrying while the broker is unreachable (logged every 10 s), up to ``timeout_s``.
    Returns counts by (source topic, rule).
    """
    from confluent_kafka import Producer

    counts: Counter[tuple[str, str]] = Counter()
    if letters.num_rows == 0:
        return counts
    own = producer is None
    producer = producer or Producer(producer_config(kafka))
    failures: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err}")

    rows = letters.select(["topic", "partition", "offset", "kafka_timestamp", "key", "value", "error"]).to_pylist()
    for row in rows:
        headers = [
            (ERROR_HEADER, row["error"].encode()),
            ("featurekit.source.topic", row["topic"].encode()),
            ("featurekit.source.partition", str(row["partition"]).encode()),
            ("featurekit.source.offset", str(row["offset"]).encode()),
        ]
        if row["kafka_timestamp"] is not None:
            headers.append(("featurekit.source.timestamp", row["kafka_timestamp"].isoformat().encode()))
        while True:
            try:
                producer.produce(
                    dlq_topic(kafka, row["topic"]),
                    value=row["value"],
                    key=row["key"],
                    headers=headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.5)
        counts[(row["topic"], reason_kind(row["error"]))] += 1
    deadline = time.monotonic() + timeout_s
    waited = time.monotonic()
    while (remaining := producer.flush(10)) > 0:
        if time.monotonic() > deadline:
            raise DeadLetterError(
                f"{remaining} dead letters not delivered to Kafka at {kafka.bootstrap_servers} within {timeout_s:.0f}s"
            )
        log.warning(
            "dead letters: %d not yet delivered after %.0fs (Kafka at %s unreachable?); still retrying",
            remaining,
            time.monotonic() - waited,
            kafka.bootstrap_servers,
        )
    if own:
        del producer
    if failures:
        raise DeadLetterError(f"{len(failures)} dead letters were rejected by Kafka, first: {failures[0]}")
    return counts


@dataclass
class ReplayReport:
    dlq_topic: str
    read: int
    replayed: int
    duplicates: int


def replay_dead_letters(
    kafka: KafkaSettings, topic: str, *, reason: str | None = None, dry_run: bool = False, timeout_s: float = 30.0
) -> ReplayReport:
    """Re-produce the dead letters of ``topic`` (optionally only rule ``reason``) to ``topic``, original bytes.

    The DLQ is read from its beginning to its current end (assign + seek, no consumer group); a letter published
    twice (a batch replayed after a crash) is sent once, keyed on its ``featurekit.source.*`` headers. Records that
    are still invalid simply come back to the DLQ with their reason.
    """
    from confluent_kafka import Consumer, Producer, TopicPartition

    source = dlq_topic(kafka, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "security.protocol": kafka.security_protocol,
            "group.id": "featurekit-dlq-replay",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    producer = None if dry_run else Producer(producer_config(kafka))
    seen: set[tuple[bytes, ...]] = set()
    read = replayed = duplicates = 0
    try:
        metadata = consumer.list_topics(source, timeout=timeout_s).topics.get(source)
        if metadata is None or metadata.error is not None:
            raise DeadLetterError(f"dead-letter topic {source!r} does not exist on {kafka.bootstrap_servers}")
        partitions = sorted(metadata.partitions)
        consumer.assign([TopicPartition(source, p, 0) for p in partitions])
        pending = set(partitions)
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(1_000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == -191:  # partition EOF
                        pending.discard(msg.partition())
                    continue
                read += 1
                headers: dict[str, Any] = dict(msg.headers() or [])
                if reason and reason_kind(headers.get(ERROR_HEADER, b"").decode()) != reason:
                    continue
                origin = tuple(headers.get(f"featurekit.source.{h}", b"") for h in ("topic", "partition", "offset"))
                if origin in seen:
                    duplicates += 1
                    continue
                seen.add(origin)
                replayed += 1
                if producer is not None:
                    producer.produce(topic, value=msg.value(), key=msg.key())
                    producer.poll(0)
        if pending:
            raise DeadLetterError(f"reading {source!r}: no end of partitions {sorted(pending)} within {timeout_s}s")
    finally:
        consumer.close()
    if producer is not None and producer.flush(timeout_s):
        raise DeadLetterError(f"replaying {source!r}: not every letter was delivered to {topic!r} in {timeout_s}s")
    return ReplayReport(source, read, replayed, duplicates)
