"""The online store is unreachable: the query fails, is restarted from its checkpoint with back-off, and a bounded
run gives up with one clear error naming the query and the cause; nothing is marked done, so nothing is lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from examples.cash_advance.events import BALANCE_TOPIC, EventGenerator, encode
from featurekit.services.ports import free_port
from featurekit.streaming.errors import StreamingError
from featurekit.streaming.jobs import StreamApplication
from featurekit.streaming.producer import EventProducer
from featurekit.streaming.sink import MARKER_DIR
from support.streams import settings_for


def test_unreachable_redis_restarts_then_fails_clearly(stream_settings, spark):
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens here
    # Same registry, topics and broker as the fixture, but a dead online store.
    settings = settings_for(stream_settings.data_dir, closed, stream_settings.kafka.bootstrap_servers)
    producer = EventProducer(settings)
    for event in EventGenerator(users=5).balances(20, datetime.now(UTC)):
        key, value = encode(event)
        producer.send(BALANCE_TOPIC, value, key)
    producer.flush()

    job = StreamApplication(settings, "user_balance_live", spark=spark, available_now=True, max_restarts=1).start()
    deadline = time.monotonic() + 120
    try:
        with pytest.raises(
            StreamingError,
            match=r"query user_balance_live failed 2 times in a row \(restart limit 1\).*RedisUnavailableError",
        ):
            while time.monotonic() < deadline:
                job.poll()
                time.sleep(0.2)
    finally:
        job.stop()
    assert job.stats["user_balance_live"].restarts == 1
    markers = settings.data_dir / "checkpoints" / "user_balance_live" / MARKER_DIR
    assert not markers.exists() or not any(markers.iterdir())  # no batch recorded as done
