"""Producing JSON events to a stream view's topic: topic creation for local brokers and a batching producer.

Synthetic events for a particular feature repo belong to that repo's example code; ``featurekit stream produce``
sends JSON lines from a file, keyed by the view's join keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from featurekit.config.settings import Settings

log = logging.getLogger("featurekit.streaming.producer")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def encode(event: dict[str, Any], key_fields: Sequence[str]) -> tuple[bytes, bytes]:
    """(key, value): keyed by the entity's join keys, so one entity's events stay in one partition, in order."""
    return "|".join(str(event[k]) for k in key_fields).encode(), orjson.dumps(event)


def ensure_topics(settings: Settings, topics: Iterable[str], *, partitions: int = 2, timeout_s: float = 15) -> None:
    """Create the topics that do not exist yet (local broker, tests); production topics are provisioned."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers, "log_level": 3})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [t for t in dict.fromkeys(topics) if t not in existing]
    if not wanted:
        return
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in wanted])
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
        log.info("created topic %s (%d partitions)", topic, partitions)


class EventProducer:
    """A confluent-kafka producer for the stream topics (batching, waits for delivery on :meth:`flush`)."""

    def __init__(self, settings: Settings, **config: Any) -> None:
        from confluent_kafka import Producer

        self.settings = settings
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka.bootstrap_servers,
                "security.protocol": settings.kafka.security_protocol,
                "linger.ms": 5,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "log_level": 3,
                **config,
            }
        )
        self.sent = 0

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.sent += 1
        if self.sent % 5_000 == 0:
            self.producer.poll(0)

    def send_events(self, topic: str, events: Iterable[dict[str, Any]], key_fields: Sequence[str]) -> int:
        n = 0
        for event in events:
            key, value = encode(event, key_fields)
            self.send(topic, value, key)
            n += 1
        return n

    def flush(self, timeout_s: float = 60) -> None:
        remaining = self.producer.flush(timeout_s)
        if remaining:
            raise RuntimeError(f"{remaining} events not delivered to {self.settings.kafka.bootstrap_servers}")
