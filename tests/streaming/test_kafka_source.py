"""The ``featurekit-kafka`` reader's offset planning on Spark 4.0's Python streaming API, against a real broker.

Spark 4.0 calls ``latestOffset()`` without a start or a read limit, so the reader keeps its own position: these
tests drive it the way Spark's micro-batch loop does (first batch: ``latestOffset`` then ``initialOffset``; later
batches: ``partitions(start, end)`` then ``latestOffset``; a restart: ``partitions(last, last)`` first) and check that
every batch stays within ``maxOffsetsPerTrigger``, the batches tile the topic exactly, and ``endingOffsets`` holds.
The Spark runs themselves are covered by the stream tests (``test_dead_letters``, ``test_crash_restart``).
"""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from featurekit.streaming.kafka_options import KafkaSourceError, SourceOptions
from featurekit.streaming.kafka_read import read_range
from featurekit.streaming.kafka_source import KafkaStreamReader
from featurekit.streaming.producer import ensure_topics
from support.streams import settings_for

TOPIC = "source-test"


@pytest.fixture
def bootstrap(kafka_broker, tmp_path) -> str:
    ensure_topics(settings_for(tmp_path, "redis://127.0.0.1:9/0", kafka_broker.bootstrap_servers), [TOPIC])
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(250):
        producer.produce(TOPIC, value=str(i).encode(), key=str(i).encode(), partition=i % 2)
    producer.flush(15)
    return kafka_broker.bootstrap_servers


def reader(bootstrap: str, **extra: str) -> KafkaStreamReader:
    options = {"kafka.bootstrap.servers": bootstrap, "subscribe": TOPIC, "startingOffsets": "earliest", **extra}
    return KafkaStreamReader(SourceOptions.parse(options))


def rows(source: KafkaStreamReader, start: dict, end: dict) -> list[int]:
    values = []
    for part in source.partitions(start, end):
        for batch in read_range(part):
            values += [int(v) for v in batch.column("value").to_pylist()]
    return values


def size(start: dict, end: dict) -> int:
    return sum(o - start[TOPIC][p] for p, o in end[TOPIC].items())


def test_batches_are_bounded_and_tile_the_topic_and_a_restart_resumes(bootstrap):
    source = reader(bootstrap, maxOffsetsPerTrigger="60")
    end = source.latestOffset()  # Spark asks for the first batch's end before its start
    start = source.initialOffset()
    assert start == {TOPIC: {"0": 0, "1": 0}} and size(start, end) == 60
    seen = rows(source, start, end)
    start = end
    end = source.latestOffset()
    assert size(start, end) == 60
    seen += rows(source, start, end)

    # a new reader (driver restart) learns its position from the checkpoint's last offsets, then goes on
    restarted = reader(bootstrap, maxOffsetsPerTrigger="60")
    restarted.partitions(end, end)
    while (nxt := restarted.latestOffset()) != end:
        assert 0 < size(end, nxt) <= 60
        seen += rows(restarted, end, nxt)
        end = nxt
    assert end == {TOPIC: {"0": 125, "1": 125}}
    assert sorted(seen) == list(range(250))  # every record once: no gap, no overlap between batches


def test_ending_offsets_hold_the_query_at_its_target(bootstrap):
    source = reader(bootstrap, endingOffsets='{"source-test": {"0": 100, "1": 7}}', maxOffsetsPerTrigger="1000")
    start = source.initialOffset()
    end = source.latestOffset()
    assert end == {TOPIC: {"0": 100, "1": 7}}
    rows(source, start, end)
    assert source.latestOffset() == end  # nothing more: the available-now run is complete


def test_bad_options_name_the_option():
    with pytest.raises(KafkaSourceError, match="endingOffsets must be"):
        SourceOptions.parse({"kafka.bootstrap.servers": "x:1", "subscribe": "t", "endingOffsets": "{oops"})
    with pytest.raises(KafkaSourceError, match="maxOffsetsPerTrigger must be positive"):
        SourceOptions.parse({"kafka.bootstrap.servers": "x:1", "subscribe": "t", "maxOffsetsPerTrigger": "0"})
