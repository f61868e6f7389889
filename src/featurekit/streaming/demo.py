"""The demo's streaming stage: local broker, a burst of synthetic events, both stream applications, and the result
through ``get_online_features``: freshness, dead letters, and how many paid balance checks were avoided."""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from featurekit.config import Settings

MAX_BALANCE_AGE = timedelta(minutes=5)


def run_stream_stage(
    settings: Settings,
    console: Console,
    *,
    balance_events: int = 5_000,
    transactions: int = 5_000,
    users: int = 2_000,
    poison_rate: float = 0.002,
    timeout_s: float = 90.0,
) -> dict[str, Any]:
    """Start tansu, produce a burst, stream it until it is served, print what happened; returns the numbers."""
    from featurekit.repo.feast_config import feature_store
    from featurekit.services.kafka_broker import KafkaBroker
    from featurekit.serving.balance import BalanceChecker
    from featurekit.streaming.jobs import StreamApplication
    from featurekit.streaming.producer import EventGenerator, EventProducer, encode, ensure_topics, stream_topics
    from featurekit.streaming.session import spark_session

    with KafkaBroker.start() as broker:
        checkpoints = f"{settings.data_dir}/checkpoints/demo"
        shutil.rmtree(checkpoints, ignore_errors=True)  # a fresh broker's offsets start again at 0
        settings = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap_servers}),
                "streaming": settings.streaming.model_copy(update={"checkpoint_location": checkpoints}),
            }
        )
        ensure_topics(settings, stream_topics(settings))
        console.print(f"  tansu broker {broker.bootstrap_servers}; checkpoints {checkpoints}")
        spark = spark_session(settings, "featurekit-demo-stream")
        jobs = [StreamApplication(settings, name, spark=spark).start() for name in ("balances", "transactions")]
        try:
            gen = EventGenerator(users=users, seed=21)
            producer = EventProducer(settings)
            started = time.monotonic()
            produced_at = datetime.now(UTC)
            balances = gen.balances(balance_events, produced_at)
            for event in balances:
                key, value = encode(event)
                producer.send(settings.kafka.balance_topic, value, key)
            for event in gen.transactions(transactions, produced_at):
                key, value = encode(event)
                producer.send(settings.kafka.transactions_topic, value, key)
            poison = gen.poison(int(balance_events * poison_rate), produced_at)
            for _, payload in poison:
                producer.send(settings.kafka.balance_topic, payload)
            producer.flush()
            produced_s = time.monotonic() - started
            console.print(
                f"  produced {balance_events:,} balance events, {transactions:,} transactions and {len(poison)} "
                f"poison records in {produced_s:.1f}s"
            )
            latest: dict[int, dict[str, Any]] = {}
            for event in balances:
                latest[event["user_id"]] = event
            store = feature_store(settings)
            checker = BalanceChecker.from_feature_store(store, MAX_BALANCE_AGE)
            sample = sorted(latest)[:: max(1, len(latest) // 200)]
            deadline = time.monotonic() + timeout_s
            while True:
                for job in jobs:
                    job.poll()
                response = checker.reader.get_online_features(
                    features=["user_balance_live:balance"], entity_rows=[{"user_id": u} for u in sample]
                ).to_dict()
                if response["balance"] == [latest[u]["balance"] for u in sample]:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"streamed balances not visible within {timeout_s:.0f}s of producing them")
                time.sleep(0.2)
            visible_s = time.monotonic() - started
            for job in jobs:
                job.poll()
        finally:
            for job in jobs:
                job.stop()

        decisions = checker.decide(sorted(latest))
        ages = [d.age_s for d in decisions if d.age_s is not None]
        avoided, paid = checker.paid_calls_avoided, checker.paid_calls_made
        stats = {q: s for job in jobs for q, s in job.stats.items()}
        dead = sum(sum(s.dead_letters.values()) for s in stats.values())
        console.print(
            f"  burst visible through get_online_features {visible_s:.1f}s after the first event was produced "
            f"({visible_s - produced_s:.1f}s after the last)"
        )
        console.print(
            f"  {len(decisions):,} users asked for a balance (max age {MAX_BALANCE_AGE}): {avoided:,} paid balance "
            f"checks avoided, {paid:,} needed; served balance age p50 {statistics.median(ages):.1f}s, "
            f"max {max(ages):.1f}s"
        )
        console.print(
            "  "
            + "; ".join(
                f"{q}: {s.input_rows:,} records, {s.batches} batches, {s.online_rows:,} online rows"
                for q, s in stats.items()
            )
            + f"; {dead} dead letters (see {settings.kafka.balance_topic}{settings.kafka.dlq_suffix})"
        )
        return {
            "visible_s": visible_s,
            "paid_calls_avoided": avoided,
            "paid_calls_needed": paid,
            "dead_letters": dead,
            "age_p50_s": statistics.median(ages),
        }
