"""Executor side of the ``featurekit-kafka`` source: read one planned offset range of one partition.

Each task assigns its partition and seeks to the range start (no consumer group, nothing committed to Kafka), so a
restarted query replays exactly the ranges of its last uncommitted batch. A task that loses the broker mid-read
keeps retrying until ``featurekit.fetchTimeoutSeconds`` and then fails with a clear message (the application
supervisor restarts the query from its checkpoint); an offset deleted by retention fails at once, never skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql.datasource import InputPartition

from featurekit.streaming.kafka_options import FORMAT_NAME, KafkaSourceError, SourceOptions

ARROW_SCHEMA = pa.schema(
    [
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("timestampType", pa.int32()),
    ]
)
_READ_CHUNK = 10_000
_PARTITION_EOF = -191  # confluent_kafka.KafkaError._PARTITION_EOF
_AUTO_OFFSET_RESET = -140  # confluent_kafka.KafkaError._AUTO_OFFSET_RESET (auto.offset.reset=error)

log = logging.getLogger("featurekit.streaming.kafka_source")


@dataclass
class KafkaRange(InputPartition):
    """One task: offsets ``[start, end)`` of one topic partition."""

    topic: str
    partition: int
    start: int
    end: int
    client: dict[str, str]
    fetch_timeout_s: float


def read_range(part: KafkaRange) -> Iterator[pa.RecordBatch]:
    """Read offsets ``[start, end)`` of one partition as Arrow record batches (runs in a Spark task)."""
    from confluent_kafka import Consumer, TopicPartition

    options = SourceOptions(
        client=part.client,
        topics=(part.topic,),
        starting="earliest",
        max_offsets_per_trigger=None,
        probe_timeout_s=5.0,
        fetch_timeout_s=part.fetch_timeout_s,
    )
    # auto.offset.reset=error: a planned offset that no longer exists must fail, never silently jump elsewhere.
    consumer = Consumer(options.consumer_config(**{"fetch.wait.max.ms": 100, "auto.offset.reset": "error"}))
    try:
        consumer.assign([TopicPartition(part.topic, part.partition, part.start)])
        next_offset = part.start
        deadline = time.monotonic() + part.fetch_timeout_s
        waiting_logged = False
        while next_offset < part.end:
            messages = consumer.consume(num_messages=min(_READ_CHUNK, part.end - next_offset), timeout=1.0)
            keys, values, offsets, stamps, stamp_types = [], [], [], [], []
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == _AUTO_OFFSET_RESET:
                        raise KafkaSourceError(
                            f"{FORMAT_NAME}: {part.topic}[{part.partition}] offset {next_offset} is no longer "
                            f"available (deleted by retention?); the planned range {part.start}..{part.end} "
                            "cannot be replayed exactly"
                        )
                    if err.code() != _PARTITION_EOF:
                        log.warning("%s: reading %s[%s]: %s", FORMAT_NAME, part.topic, part.partition, err)
                    continue
                offset = msg.offset()
                if offset is None:  # librdkafka sets the offset of every fetched message without an error
                    raise KafkaSourceError(
                        f"{FORMAT_NAME}: {part.topic}[{part.partition}] returned a message without an offset "
                        f"after offset {next_offset}"
                    )
                if offset < next_offset or offset >= part.end:
                    continue
                ts_type, ts = msg.timestamp()
                keys.append(msg.key())
                values.append(msg.value())
                offsets.append(offset)
                stamps.append(ts * 1000 if ts_type else None)
                stamp_types.append(max(ts_type - 1, 0))  # librdkafka: 1=create, 2=append; Spark: 0, 1
                next_offset = offset + 1
            if offsets:
                deadline = time.monotonic() + part.fetch_timeout_s
                n = len(offsets)
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(keys, pa.binary()),
                        pa.array(values, pa.binary()),
                        pa.array([part.topic] * n, pa.string()),
                        pa.array([part.partition] * n, pa.int32()),
                        pa.array(offsets, pa.int64()),
                        pa.array(stamps, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                        pa.array(stamp_types, pa.int32()),
                    ],
                    schema=ARROW_SCHEMA,
                )
            elif time.monotonic() > deadline:
                raise KafkaSourceError(
                    f"{FORMAT_NAME}: could not read {part.topic}[{part.partition}] offsets {next_offset}..{part.end} "
                    f"within {part.fetch_timeout_s:.0f}s (broker unreachable or data deleted by retention)"
                )
            elif not waiting_logged and messages == []:
                waiting_logged = True
                log.info("%s: waiting for %s[%s] at %s", FORMAT_NAME, part.topic, part.partition, next_offset)
    finally:
        consumer.close()
