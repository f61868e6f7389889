"""Dead-letter publishing and replay against the real broker: original bytes and reasons in, each letter replayed
once to its source topic even when a crashed batch published it twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from examples.cash_advance.events import BALANCE_TOPIC
from featurekit.streaming.dead_letters import ERROR_HEADER, publish_dead_letters, replay_dead_letters
from support.streams import read_topic


def letters(topic: str) -> pa.Table:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    return pa.table(
        {
            "topic": [topic, topic, topic],
            "partition": pa.array([0, 1, 1], pa.int32()),
            "offset": pa.array([7, 3, 4], pa.int64()),
            "kafka_timestamp": pa.array([now] * 3, pa.timestamp("us", tz="UTC")),
            "key": pa.array([b"100001", None, b"100002"], pa.binary()),
            "value": pa.array([b"not json", b'{"user_id": "x"}', b'{"user_id": 1}'], pa.binary()),
            "error": [
                "unparseable: not valid JSON (...)",
                "wrong_type: 'user_id' must be an integer, got str",
                "missing_field: 'balance' is required",
            ],
        }
    )


def test_published_letters_replay_once_with_their_original_bytes(stream_settings):
    kafka = stream_settings.kafka
    topic = BALANCE_TOPIC
    counts = publish_dead_letters(kafka, letters(topic))
    publish_dead_letters(kafka, letters(topic))  # the same batch again, as after a crash before its marker
    assert counts == {(topic, "unparseable"): 1, (topic, "wrong_type"): 1, (topic, "missing_field"): 1}
    dlq = read_topic(stream_settings, f"{topic}.dlq")
    assert len(dlq) == 6
    assert {dict(m.headers())[ERROR_HEADER].split(b":")[0] for m in dlq} == {
        b"unparseable",
        b"wrong_type",
        b"missing_field",
    }

    dry = replay_dead_letters(kafka, topic, dry_run=True)
    assert (dry.read, dry.replayed, dry.duplicates) == (6, 3, 3)
    assert read_topic(stream_settings, topic) == []

    only = replay_dead_letters(kafka, topic, reason="wrong_type")
    assert only.replayed == 1
    replayed = read_topic(stream_settings, topic)
    assert [(m.key(), m.value()) for m in replayed] == [(None, b'{"user_id": "x"}')]
