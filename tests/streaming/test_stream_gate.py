"""The stream quality gate: the view's expectations per micro-batch, rejected events in the DLQ naming the
expectation, and a batch failing too often stopping the query before anything is written."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from prometheus_client import REGISTRY

from examples.cash_advance.events import BALANCE_TOPIC, EventGenerator, encode
from featurekit.quality.stream_gate import StreamQualityError, ViewGates, gate_batch, load_stream_gate
from featurekit.quality.suites import SuiteError
from featurekit.streaming.errors import StreamingError
from featurekit.streaming.producer import EventProducer
from support.redis_state import redis_snapshot
from support.streams import drain, online_rows, read_topic

BETWEEN = "expect_column_values_to_be_between(column='balance', min_value=-1000000, max_value=100000000)"


def test_gate_splits_rows_and_names_the_first_failed_expectation(stream_settings) -> None:
    gate = load_stream_gate(stream_settings.feature_repo, "user_balance_live")
    table = pa.table(
        {
            "user_id": [1, 2, None, 4, 5],
            "balance": [10.0, -5e9, 3.0, None, 7.0],
            "balance_source": ["active", "passive", "active", "scraped", None],
            "event_timestamp": pa.array([datetime(2026, 3, 1)] * 5, pa.timestamp("us", tz="UTC")),
        }
    )
    result = gate.split(table)
    assert result.good.column("user_id").to_pylist() == [1, 5]  # a null passes all but not_be_null, as in GX
    assert result.bad.column("expectation").to_pylist() == [
        BETWEEN,
        "expect_column_values_to_not_be_null(column='user_id')",
        "expect_column_values_to_not_be_null(column='balance')",
    ]
    assert (
        result.failures["expect_column_values_to_be_in_set(column='balance_source', value_set=['passive', 'active'])"]
        == 1
    )
    # balance_observed_at is derived by the transform: its check waits for the view's rows, not skipped silently
    assert "expect_column_values_to_be_between:balance_observed_at" in [c.label for c in gate.checks]
    assert "expect_compound_columns_to_be_unique" in gate.not_per_row

    with pytest.raises(StreamQualityError, match=r"3 of 5 rows \(60.0%\).*stream_max_failure_rate=50.0%"):
        gate_batch(gate, table, where="q batch 7", max_failure_rate=0.5, min_rows=5)
    assert gate_batch(gate, table, where="q", max_failure_rate=0.5, min_rows=6).bad.num_rows == 3  # too few rows


def test_view_gates_follow_the_suite_file_and_require_it_only_for_the_kits_repo(tmp_path: Path) -> None:
    """The feature server's gates for pushed rows: loaded once per version of the suite file, a missing suite an
    error naming the file for the kit's repo and no gate for a bare Feast repo."""
    suite = tmp_path / "feature_views" / "scores.expectations.yaml"
    suite.parent.mkdir()
    rule = "expect_column_values_to_be_between: {{column: score, min_value: 0, max_value: {}}}"
    suite.write_text(f"view: scores\nexpectations:\n  - {rule.format(10)}\n")
    required, optional = ViewGates(tmp_path, required=True), ViewGates(tmp_path, required=False)
    gate = required.for_view("scores")
    assert gate is not None and required.for_view("scores") is gate  # cached while the file is unchanged
    rows = pa.table({"score": [5.0, 50.0]})
    assert gate.split(rows).bad.num_rows == 1
    suite.write_text(f"view: scores\nexpectations:\n  - {rule.format(100)}\n")
    later = suite.stat().st_mtime_ns + 1_000_000
    os.utime(suite, ns=(later, later))  # a new version, even within the file system's timestamp resolution
    reloaded = required.for_view("scores")
    assert reloaded is not gate and reloaded is not None and reloaded.split(rows).bad.num_rows == 0
    with pytest.raises(SuiteError, match=r"'unsuited' has no expectation suite: expected .*unsuited.expectations"):
        required.for_view("unsuited")
    assert optional.for_view("unsuited") is None


def test_rejected_events_go_to_the_dlq_with_the_expectation_name(stream_settings, spark) -> None:
    settings = stream_settings
    topic = BALANCE_TOPIC
    gen = EventGenerator(users=30, seed=5)
    now = datetime.now(UTC).replace(microsecond=0)
    events = gen.balances(120, [now - timedelta(seconds=120 - i) for i in range(120)])
    bad_users = set()
    for event in events[::40]:  # 3 of 120: well-formed JSON, but a balance no account has
        event["balance"] = -5_000_000_000.0
        bad_users.add(event["user_id"])
    producer = EventProducer(settings)
    for event in events:
        key, value = encode(event)
        producer.send(topic, value, key)
    producer.flush()
    labels = {"feature_view": "user_balance_live", "expectation": "expect_column_values_to_be_between:balance"}
    before = REGISTRY.get_sample_value("featurekit_stream_expectation_failures_total", labels) or 0.0

    job = drain(settings, spark, "user_balance_live")

    letters = read_topic(settings, f"{topic}.dlq")
    assert sorted(json.loads(m.value())["balance"] for m in letters) == [-5e9] * 3
    for message in letters:
        assert dict(message.headers())["featurekit.error"].decode() == f"expectation: {BETWEEN}"
    assert job.stats["user_balance_live"].dead_letters == {"expectation": 3}
    assert REGISTRY.get_sample_value("featurekit_stream_expectation_failures_total", labels) == before + 3
    served = online_rows(settings, ["user_balance_live:balance"], sorted(bad_users))
    assert all(row["balance"] != -5e9 for row in served.values())  # the rejected value never reached Redis


def test_a_batch_failing_too_often_stops_the_query_before_writing(stream_settings, spark) -> None:
    settings = stream_settings
    topic = BALANCE_TOPIC
    gen = EventGenerator(users=30, seed=6)
    now = datetime.now(UTC).replace(microsecond=0)
    events = gen.balances(60, [now - timedelta(seconds=60 - i) for i in range(60)])
    for event in events[::2]:  # half of the batch: a broken producer (well-formed events), not a stray record
        event["balance"] = -5_000_000_000.0
    producer = EventProducer(settings)
    for event in events:
        key, value = encode(event)
        producer.send(topic, value, key)
    producer.flush()
    before = redis_snapshot(settings.online_store.tiers["warm"].url)

    with pytest.raises(StreamingError) as stopped:
        drain(settings, spark, "user_balance_live")
    message = str(stopped.value)
    assert "user_balance_live" in message and "stream_max_failure_rate" in message, message
    assert "expect_column_values_to_be_between" in message and "30 of 60 rows" in message, message
    assert redis_snapshot(settings.online_store.tiers["warm"].url) == before
    assert read_topic(settings, f"{topic}.dlq") == []
