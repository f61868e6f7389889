"""Late data: transactions older than the watermark are counted and dropped from the one-hour window; a late
balance event never moves the served balance back in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from examples.cash_advance.events import BALANCE_TOPIC, TRANSACTIONS_TOPIC, encode
from featurekit.streaming.jobs import StreamApplication
from featurekit.streaming.producer import EventProducer, iso
from support.streams import online_rows, wait_until

A, B = 100_001, 100_002
TXN = ["user_txn_1h:txn_count_1h", "user_txn_1h:spend_1h", "user_txn_1h:income_1h"]
BAL = ["user_balance_live:balance", "user_balance_live:balance_observed_at"]


def txn(txn_id: int, user: int, amount: float, at: datetime) -> dict:
    return {"txn_id": txn_id, "user_id": user, "amount": amount, "category": "groceries", "event_timestamp": iso(at)}


def balance(user: int, value: float, at: datetime) -> dict:
    return {"user_id": user, "balance": value, "balance_source": "passive", "event_timestamp": iso(at)}


def test_late_events_are_counted_dropped_and_never_regress_the_balance(stream_settings, spark):
    settings = stream_settings
    now = datetime.now(UTC).replace(microsecond=0)
    producer = EventProducer(settings)
    on_time = [txn(1, A, -10.0, now - timedelta(minutes=5)), txn(2, A, -20.0, now - timedelta(minutes=3))]
    on_time += [txn(3, A, 100.0, now - timedelta(minutes=1)), txn(3, A, 100.0, now - timedelta(minutes=1))]  # resent
    for event in on_time:
        producer.send(TRANSACTIONS_TOPIC, *reversed(encode(event)))
    producer.send(BALANCE_TOPIC, *reversed(encode(balance(A, 500.0, now))))
    producer.flush()

    late_before = REGISTRY.get_sample_value("featurekit_stream_late_events_total", {"query": "user_txn_1h"}) or 0.0
    jobs = [StreamApplication(settings, name, spark=spark).start() for name in ("user_txn_1h", "user_balance_live")]
    try:

        def poll_all() -> None:
            for job in jobs:
                job.poll()

        expected_a = {"txn_count_1h": 3, "spend_1h": 30.0, "income_1h": 100.0}
        wait_until(lambda: (poll_all(), online_rows(settings, TXN, [A])[A] == expected_a)[1], timeout_s=120,
                   what="on-time transactions to be served")  # fmt: skip
        wait_until(lambda: online_rows(settings, BAL, [A])[A]["balance"] == 500.0, timeout_s=60,
                   what="the on-time balance", job=jobs[1])  # fmt: skip

        # Spark judges late rows against the watermark of the previous micro-batch: wait until one is in effect.
        wait_until(lambda: jobs[0].stats["user_txn_1h"].watermark is not None, timeout_s=60,
                   what="the watermark to advance", job=jobs[0])  # fmt: skip
        assert jobs[0].stats["user_txn_1h"].watermark == now - timedelta(minutes=11)

        # Beyond the 10-minute watermark (now - 1 min - 10 min): dropped by rule, counted.
        late = [txn(10 + i, A, -999.0, now - timedelta(minutes=30 + i)) for i in range(3)]
        late.append(txn(20, A, -999.0, now - timedelta(hours=2)))
        for event in late:
            producer.send(TRANSACTIONS_TOPIC, *reversed(encode(event)))
        producer.send(TRANSACTIONS_TOPIC, *reversed(encode(txn(30, B, -1.0, now))))
        producer.send(BALANCE_TOPIC, *reversed(encode(balance(A, 1.0, now - timedelta(hours=2)))))
        producer.send(BALANCE_TOPIC, *reversed(encode(balance(B, 7.0, now))))
        producer.flush()
        total = len(on_time) + len(late) + 1
        wait_until(lambda: (poll_all(), jobs[0].stats["user_txn_1h"].input_rows >= total)[1], timeout_s=120,
                   what="the late transactions to be read")  # fmt: skip
        wait_until(lambda: online_rows(settings, TXN, [B])[B]["txn_count_1h"] == 1, timeout_s=60,
                   what="the on-time transaction after the late ones", job=jobs[0])  # fmt: skip
        wait_until(lambda: online_rows(settings, BAL, [B])[B]["balance"] == 7.0, timeout_s=60,
                   what="the balance after the late one", job=jobs[1])  # fmt: skip
    finally:
        for job in jobs:
            job.stop()

    assert jobs[0].stats["user_txn_1h"].late_events == len(late)
    late_metric = REGISTRY.get_sample_value("featurekit_stream_late_events_total", {"query": "user_txn_1h"})
    assert late_metric - late_before == len(late)
    assert online_rows(settings, TXN, [A])[A] == expected_a  # the duplicate txn 3 counted once, late ones not at all
    served = online_rows(settings, BAL, [A])[A]
    assert served == {"balance": 500.0, "balance_observed_at": int(now.timestamp())}
