"""Driver-side broker calls of the ``featurekit-kafka`` source: partitions, low and end offsets of the topics.

The end of a partition is taken from a fetch response at the last known end (or the broker's ListOffsets high
watermark, whichever is further), or from partition EOF: some Kafka-compatible brokers report a lagging high
watermark through the ListOffsets API, while the fetch path is always exact. Every broker failure is raised as
:class:`BrokerUnavailable`, which the reader turns into "no new data this trigger".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from featurekit.streaming.kafka_options import (
    EARLIEST,
    FORMAT_NAME,
    LATEST,
    KafkaSourceError,
    Offsets,
    SourceOptions,
    nested,
    parse_json_offsets,
)

_READ_CHUNK = 10_000
_PARTITION_EOF = -191  # confluent_kafka.KafkaError._PARTITION_EOF

log = logging.getLogger("featurekit.streaming.kafka_source")


class BrokerUnavailable(Exception):
    """The broker did not answer a metadata, offset or fetch request in time."""


class OffsetProbe:
    """One small consumer (assign only, no group, no commits) asking the broker where the topics' partitions are."""

    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self._consumer_: Any = None
        self._known_end: dict[tuple[str, int], int] = {}

    def close(self) -> None:
        if self._consumer_ is not None:
            self._consumer_.close()
            self._consumer_ = None

    def initial_offsets(self) -> Offsets:
        """Where a query without a checkpoint starts, from ``startingOffsets``."""
        starting = self.options.starting
        explicit = parse_json_offsets(starting) if starting[0] == "{" else {}
        result: Offsets = {}
        for topic, partitions in self.partitions().items():
            result[topic] = {}
            for p in partitions:
                wanted = explicit.get(topic, {}).get(str(p))
                if wanted is None:
                    wanted = EARLIEST if starting == "earliest" or explicit else LATEST
                if wanted == EARLIEST:
                    result[topic][str(p)] = self.low(topic, p)
                elif wanted == LATEST:
                    result[topic][str(p)] = self.end_offsets({(topic, p): 0})[(topic, p)]
                else:
                    result[topic][str(p)] = wanted
        return result

    def latest(self, start: dict) -> Offsets:
        """The end of every partition, never behind ``start``; a partition new since ``start`` counts from its low."""
        known = {(t, int(p)): o for t, parts in start.items() for p, o in parts.items()}
        positions: dict[tuple[str, int], int] = {}
        for topic, partitions in self.partitions().items():
            for p in partitions:
                key = (topic, p)
                positions[key] = max(known.get(key, self.low(topic, p)), self._known_end.get(key, 0))
        ends = self.end_offsets(positions)
        return nested({k: max(v, known.get(k, 0)) for k, v in ends.items()})

    def _consumer(self) -> Any:
        if self._consumer_ is None:
            from confluent_kafka import Consumer

            # Small fetches: the probe only needs the fetch response's high watermark, not the data.
            config = self.options.consumer_config(**{"max.partition.fetch.bytes": 4096})
            try:
                self._consumer_ = Consumer(config)
            except Exception as exc:
                raise KafkaSourceError(f"{FORMAT_NAME}: invalid Kafka client settings: {exc}") from exc
        return self._consumer_

    def partitions(self) -> dict[str, list[int]]:
        from confluent_kafka import KafkaException

        try:
            metadata = self._consumer().list_topics(timeout=self.options.probe_timeout_s)
        except KafkaException as exc:
            raise BrokerUnavailable(f"metadata request failed: {exc}") from exc
        result: dict[str, list[int]] = {}
        for topic in self.options.topics:
            info = metadata.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                log.warning("%s: topic %r does not exist yet; waiting for it", FORMAT_NAME, topic)
                result[topic] = []
            else:
                result[topic] = sorted(info.partitions)
        return result

    def low(self, topic: str, partition: int) -> int:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            low, _ = self._consumer().get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.options.probe_timeout_s, cached=False
            )
        except KafkaException as exc:
            raise BrokerUnavailable(f"offset request for {topic}[{partition}] failed: {exc}") from exc
        return max(int(low), 0)

    def end_offsets(self, positions: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """The exact end offset of each partition, read to partition EOF from ``positions``."""
        from confluent_kafka import KafkaException, TopicPartition

        if not positions:
            return {}
        consumer = self._consumer()
        start: dict[tuple[str, int], int] = {}
        for (topic, p), pos in positions.items():
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=self.options.probe_timeout_s, cached=False
                )
            except KafkaException as exc:
                raise BrokerUnavailable(f"offset request for {topic}[{p}] failed: {exc}") from exc
            start[(topic, p)] = max(pos, int(high))
        ends = dict(start)
        pending = set(start)
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in start.items()])
        deadline = time.monotonic() + self.options.probe_timeout_s
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=_READ_CHUNK, timeout=0.02):
                key = (msg.topic(), msg.partition())
                if key not in pending:
                    continue
                err = msg.error()
                if err is None:
                    ends[key] = max(ends.get(key, 0), msg.offset() + 1)
                    # The fetch response carries the exact high watermark: one fetch is enough, no need to read on.
                    _, fetched_high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
                    if fetched_high >= ends[key]:
                        ends[key] = fetched_high
                        pending.discard(key)
                elif err.code() == _PARTITION_EOF:
                    ends[key] = max(ends.get(key, 0), msg.offset())
                    pending.discard(key)
                else:
                    log.warning("%s: probing %s[%s]: %s", FORMAT_NAME, key[0], key[1], err)
        consumer.unassign()
        if pending and all(ends[k] == start[k] for k in pending):
            raise BrokerUnavailable(f"no fetch answer within {self.options.probe_timeout_s}s for {sorted(pending)}")
        self._known_end.update(ends)
        return ends

    def all_end_offsets(self) -> Offsets:
        """The end of every partition of the topics now (what an available-now query reads up to)."""
        keys = {(t, p): 0 for t, parts in self.partitions().items() for p in parts}
        return nested(self.end_offsets(keys))
