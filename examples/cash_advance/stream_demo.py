"""The cash-advance demo's streaming stage: local broker, a burst of synthetic events, the stream jobs the kit
generates from ``feature_repo/``, and the result through ``get_online_features``: freshness, dead letters, and how
many paid balance checks were avoided. ``featurekit demo`` calls :func:`run_stream_stage` by its import path."""

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
    timeout_s: float = 180.0,  # the first burst includes JVM and Python worker start-up on a busy machine
) -> dict[str, Any]:
    """Start tansu, produce a burst, stream it until it is served, print what happened; returns the numbers."""
    from examples.cash_advance.balance_checker import BalanceChecker
    from examples.cash_advance.events import (
        BALANCE_TOPIC,
        TRANSACTIONS_JOB,
        TRANSACTIONS_TOPIC,
        EventGenerator,
        encode,
    )
    from featurekit.repo.feast_config import feature_store
    from featurekit.services.kafka_broker import KafkaBroker
    from featurekit.streaming.jobs import StreamApplication, stream_jobs, stream_topics
    from featurekit.streaming.producer import EventProducer, ensure_topics
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
        generated = stream_jobs(settings)
        ensure_topics(settings, stream_topics(settings, generated))
        console.print(f"  tansu broker {broker.bootstrap_servers}; checkpoints {checkpoints}")
        console.print(
            "  jobs from feature_repo/: " + ", ".join(f"{n} ({j.spec.describe_kind()})" for n, j in generated.items())
        )
        spark = spark_session(settings, "featurekit-demo-stream")
        jobs = [StreamApplication(settings, job, spark=spark).start() for job in generated.values()]
        gen = EventGenerator(users=users, seed=21)
        producer = EventProducer(settings)
        store = feature_store(settings)
        checker = BalanceChecker.from_feature_store(store, MAX_BALANCE_AGE)
        try:
            latest: dict[int, dict[str, Any]] = {}

            def burst(n_balances: int, n_txns: int, n_poison: int) -> float:
                """Produce a burst stamped now; returns seconds until its balances are served."""
                started = time.monotonic()
                now = datetime.now(UTC)
                balances = gen.balances(n_balances, now)
                for event in balances:
                    key, value = encode(event)
                    producer.send(BALANCE_TOPIC, value, key)
                    latest[event["user_id"]] = event
                for event in gen.transactions(n_txns, now):
                    key, value = encode(event)
                    producer.send(TRANSACTIONS_TOPIC, value, key)
                for _, payload in gen.poison(n_poison, now):
                    producer.send(BALANCE_TOPIC, payload)
                producer.flush()
                wanted = {e["user_id"]: e["balance"] for e in balances}
                sample = sorted(wanted)[:: max(1, len(wanted) // 200)]
                deadline = time.monotonic() + timeout_s
                while True:
                    for job in jobs:
                        job.poll()
                    served = checker.reader.get_online_features(
                        features=["user_balance_live:balance"], entity_rows=[{"user_id": u} for u in sample]
                    ).to_dict()["balance"]
                    if served == [wanted[u] for u in sample]:
                        return time.monotonic() - started
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"streamed balances not visible within {timeout_s:.0f}s of producing them")
                    time.sleep(0.1)

            poison = int(balance_events * poison_rate)
            cold_s = burst(balance_events, transactions, poison)
            console.print(
                f"  burst 1: {balance_events:,} balance events, {transactions:,} transactions, {poison} poison records "
                f"-> served in {cold_s:.1f}s (includes Spark's first micro-batch warm-up)"
            )
            live_s = [burst(200, 200, 0) for _ in range(3)]
            console.print(
                "  live bursts of 200 events -> served through get_online_features in "
                + ", ".join(f"{s:.1f}s" for s in live_s)
            )
            deadline = time.monotonic() + timeout_s
            txn_job = next(job for job in jobs if job.name == TRANSACTIONS_JOB)
            while txn_job.stats[TRANSACTIONS_JOB].input_rows < transactions + 600 and time.monotonic() < deadline:
                txn_job.poll()
                time.sleep(0.2)
        finally:
            for job in jobs:
                job.stop()

        population = list(range(100_001, 100_001 + users))
        decisions = checker.decide(population)
        ages = [d.age_s for d in decisions if d.reason == "fresh" and d.age_s is not None]
        avoided, paid = checker.paid_calls_avoided, checker.paid_calls_made
        stats = {q: s for job in jobs for q, s in job.stats.items()}
        dead = sum(sum(s.dead_letters.values()) for s in stats.values())
        sample_txn = store.get_online_features(
            features=["user_txn_1h:txn_count_1h", "user_txn_1h:spend_1h"], entity_rows=[{"user_id": population[0]}]
        ).to_dict()
        console.print(
            f"  {len(decisions):,} balance requests (max age {MAX_BALANCE_AGE}): "
            f"[green]{avoided:,} paid balance checks avoided[/] "
            f"(fresh pushed balance, age p50 {statistics.median(ages) if ages else 0:.1f}s), "
            f"{paid:,} still needed (no balance or older than {MAX_BALANCE_AGE})"
        )
        console.print(
            f"  user {population[0]}: txn_count_1h={sample_txn['txn_count_1h'][0]}, "
            f"spend_1h={sample_txn['spend_1h'][0]}"
        )
        console.print(
            "  "
            + "; ".join(
                f"{q}: {s.input_rows:,} records in {s.batches} batches, {s.online_rows:,} online rows"
                for q, s in stats.items()
            )
            + f"; {dead} dead letters in {BALANCE_TOPIC}{settings.kafka.dlq_suffix}"
        )
        return {
            "cold_visible_s": cold_s,
            "live_visible_s": live_s,
            "paid_calls_avoided": avoided,
            "paid_calls_needed": paid,
            "dead_letters": dead,
        }
