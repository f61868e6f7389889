"""Malformed and poison records mixed into valid traffic: every valid event lands, every bad record is in the DLQ
with its original bytes and a reason, and the stream keeps running."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from examples.cash_advance.events import BALANCE_TOPIC, EventGenerator, encode
from featurekit.streaming.producer import EventProducer
from support.streams import drain, offline_rows, online_rows, read_topic

FEATURES = ["user_balance_live:balance", "user_balance_live:balance_source", "user_balance_live:balance_observed_at"]


def test_poison_records_go_to_the_dlq_and_valid_events_land(stream_settings, spark):
    settings = stream_settings
    topic = BALANCE_TOPIC
    gen = EventGenerator(users=40, seed=3)
    now = datetime.now(UTC).replace(microsecond=0)
    events = gen.balances(400, [now - timedelta(seconds=400 - i) for i in range(400)])
    poison = gen.poison(36, now)
    producer = EventProducer(settings)
    sent_bad: list[tuple[bytes, str]] = []
    for i, event in enumerate(events):
        key, value = encode(event)
        producer.send(topic, value, key)
        if i % 11 == 0 and poison:
            rule, payload = poison.pop()
            producer.send(topic, payload, b"poison")
            sent_bad.append((payload, rule))
    for rule, payload in poison:
        producer.send(topic, payload, b"poison")
        sent_bad.append((payload, rule))
    producer.flush()

    def metric(rule: str) -> float:
        labels = {"topic": topic, "reason": rule}
        return REGISTRY.get_sample_value("featurekit_stream_dead_letters_total", labels) or 0.0

    before = {rule: metric(rule) for _, rule in sent_bad}
    job = drain(settings, spark, "user_balance_live", max_offsets_per_trigger=150)
    assert {rule: metric(rule) - before[rule] for rule in before} == Counter(rule for _, rule in sent_bad)

    # every bad record is in the DLQ once, byte for byte, with a reason naming its rule
    letters = read_topic(settings, f"{topic}.dlq")
    assert len(sent_bad) == 36
    assert Counter(m.value() for m in letters) == Counter(payload for payload, _ in sent_bad)
    rules = {payload: rule for payload, rule in sent_bad}
    for message in letters:
        headers = dict(message.headers())
        rule = rules[message.value()]
        assert headers["featurekit.error"].decode().startswith(rule + ":"), (message.value(), headers)
        assert headers["featurekit.source.topic"].decode() == topic
        assert message.key() == b"poison"
    assert job.stats["user_balance_live"].dead_letters == Counter(rule for _, rule in sent_bad)
    assert job.stats["user_balance_live"].batches >= 3  # maxOffsetsPerTrigger split the backlog; it kept running

    # every valid event counted: the online value is each user's latest event
    latest: dict[int, dict] = {}
    for event in events:
        latest[event["user_id"]] = event  # events are in time order
    served = online_rows(settings, FEATURES, sorted(latest))
    for user, event in latest.items():
        observed = int(datetime.fromisoformat(event["event_timestamp"]).timestamp())
        assert served[user] == {
            "balance": event["balance"],
            "balance_source": event["balance_source"],
            "balance_observed_at": observed,
        }, user
    # the offline store holds what was served (per micro-batch latest rows), newest per user equal to online
    offline = offline_rows(settings, "user_balance_live")
    newest = {}
    for row in offline:
        newest[row["user_id"]] = row
    assert {u: (r["balance"], r["balance_observed_at"]) for u, r in newest.items()} == {
        u: (served[u]["balance"], served[u]["balance_observed_at"]) for u in latest
    }
