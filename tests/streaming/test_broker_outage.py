"""The broker becomes unreachable for a while: the job waits (no new offsets, retries logged), keeps running, and
catches up with everything produced meanwhile once the broker answers again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from examples.cash_advance.events import BALANCE_TOPIC, encode
from featurekit.streaming.jobs import StreamApplication
from featurekit.streaming.producer import EventProducer, iso
from support.streams import online_rows, wait_until

FEATURES = ["user_balance_live:balance", "user_balance_live:balance_observed_at"]
USERS = list(range(100_001, 100_021))


def burst(producer: EventProducer, topic: str, at: datetime, value: float) -> None:
    for user in USERS:
        event = {"user_id": user, "balance": value, "balance_source": "passive", "event_timestamp": iso(at)}
        key, payload = encode(event)
        producer.send(topic, payload, key)


def test_job_waits_for_the_broker_and_catches_up(stream_settings, spark, kafka_broker):
    settings = stream_settings
    topic = BALANCE_TOPIC
    now = datetime.now(UTC).replace(microsecond=0)
    producer = EventProducer(settings, **{"message.timeout.ms": 120_000})
    burst(producer, topic, now - timedelta(seconds=30), 1.0)
    producer.flush()
    job = StreamApplication(settings, "user_balance_live", spark=spark).start()
    try:
        wait_until(lambda: all(r["balance"] == 1.0 for r in online_rows(settings, FEATURES, USERS).values()),
                   timeout_s=120, what="the first burst", job=job)  # fmt: skip
        kafka_broker.pause()
        try:
            burst(producer, topic, now, 2.0)  # queued by the client while the broker does not answer
            outage_end = time.monotonic() + 12
            while time.monotonic() < outage_end:
                assert job.poll(), "the streaming application stopped during the outage"
                time.sleep(0.5)
        finally:
            kafka_broker.resume()
        producer.flush(60)
        wait_until(lambda: all(r["balance"] == 2.0 for r in online_rows(settings, FEATURES, USERS).values()),
                   timeout_s=180, what="the burst produced during the outage", job=job)  # fmt: skip
    finally:
        job.stop()
    served = online_rows(settings, FEATURES, USERS)
    assert {r["balance_observed_at"] for r in served.values()} == {int(now.timestamp())}
