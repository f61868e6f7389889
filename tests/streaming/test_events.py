"""Event validation rules, without Spark: every poison shape gets its rule, valid events keep their values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from examples.cash_advance.events import POISON, EventGenerator, encode
from featurekit.repo.streams import EventFieldSpec, StreamSpec
from featurekit.streaming.events import EventField, EventSchema, reason_kind, validate_batch
from featurekit.streaming.kafka_source import ARROW_SCHEMA

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# What feature_repo/data_sources.py declares for its two topics (test_stream_specs checks the derivation).
BALANCE_EVENT = EventSchema(
    "balance_events",
    (
        EventField("user_id", "int"),
        EventField("balance", "float"),
        EventField("balance_source", "string", ("passive", "active")),
        EventField("event_timestamp", "timestamp"),
    ),
)
TRANSACTION_EVENT = EventSchema(
    "transaction_events",
    (
        EventField("txn_id", "int"),
        EventField("user_id", "int"),
        EventField("amount", "float"),
        EventField("category", "string"),
        EventField("event_timestamp", "timestamp"),
    ),
)


def records(values: list[bytes | None], at: datetime = NOW) -> pa.RecordBatch:
    n = len(values)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([b"k"] * n, pa.binary()),
            pa.array(values, pa.binary()),
            pa.array(["t"] * n),
            pa.array([0] * n, pa.int32()),
            pa.array(range(n), pa.int64()),
            pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            pa.array([0] * n, pa.int32()),
        ],
        schema=ARROW_SCHEMA,
    )


@pytest.mark.parametrize("schema", [BALANCE_EVENT, TRANSACTION_EVENT], ids=lambda s: s.name)
def test_every_poison_shape_is_a_dead_letter_with_its_rule(schema):
    poison = EventGenerator(users=10).poison(sum(len(v) for v in POISON.values()) * 2, NOW)
    out = validate_batch(schema, records([p for _, p in poison] + [None])).to_pydict()
    for i, (rule, payload) in enumerate(poison):
        assert out["error"][i] is not None and reason_kind(out["error"][i]) == rule, (payload, out["error"][i])
        assert out["value"][i] == payload and out["key"][i] == b"k"  # original bytes kept for the DLQ
        assert out["user_id"][i] is None
    assert out["error"][-1].startswith("unparseable: record has no value")


def test_valid_events_are_typed_and_drop_their_bytes():
    gen = EventGenerator(users=5)
    other_zone = {
        "user_id": 7,
        "balance": 10,
        "balance_source": "active",
        "event_timestamp": "2026-06-01T13:04:00+02:00",
    }
    events = [*gen.balances(3, NOW), other_zone]
    out = validate_batch(BALANCE_EVENT, records([encode(e)[1] for e in events])).to_pydict()
    assert out["error"] == [None] * 4 and out["value"] == [None] * 4
    assert out["balance"][3] == 10.0 and isinstance(out["balance"][3], float)  # JSON integer accepted as a number
    assert out["event_timestamp"][3] == datetime(2026, 6, 1, 11, 4, tzinfo=UTC)
    assert out["user_id"][:3] == [e["user_id"] for e in events[:3]]


@pytest.mark.parametrize(
    ("doc", "rule", "detail"),
    [
        ('{"user_id": true, "balance": 1, "balance_source": "passive", "event_timestamp": "2026-06-01T00:00:00Z"}',
         "wrong_type", "'user_id' must be an integer"),
        ('{"user_id": 1, "balance": null, "balance_source": "passive", "event_timestamp": "2026-06-01T00:00:00Z"}',
         "missing_field", "'balance' is required"),
        ('{"user_id": 1, "balance": 1, "balance_source": "passive", "event_timestamp": "2026-06-01T00:00:00"}',
         "impossible_timestamp", "no UTC offset"),
        ('{"user_id": 1, "balance": 1, "balance_source": "passive", "event_timestamp": "2026-06-01T12:06:00Z"}',
         "impossible_timestamp", "after the Kafka record time"),
        ('"just a string"', "unparseable", "expected a JSON object"),
    ],
)  # fmt: skip
def test_reasons_name_the_field_and_the_rule(doc, rule, detail):
    (error,) = validate_batch(BALANCE_EVENT, records([doc.encode()])).to_pydict()["error"]
    assert error.startswith(rule + ":") and detail in error


def test_future_skew_is_judged_against_the_record_time_so_replays_agree():
    doc = b'{"user_id": 1, "balance": 1, "balance_source": "passive", "event_timestamp": "2026-06-01T12:04:00Z"}'
    assert validate_batch(BALANCE_EVENT, records([doc])).to_pydict()["error"] == [None]
    earlier = records([doc], at=NOW - timedelta(minutes=2))
    assert reason_kind(validate_batch(BALANCE_EVENT, earlier).to_pydict()["error"][0]) == "impossible_timestamp"


def test_declared_rules_optional_fields_booleans_and_time_bounds():
    spec = StreamSpec(
        view="v",
        origin="x.py",
        source="s",
        topic="t",
        fields=(
            EventFieldSpec("id", "int"),
            EventFieldSpec("note", "string", required=False),
            EventFieldSpec("flag", "bool"),
            EventFieldSpec("ts", "timestamp"),
        ),
        timestamp_field="ts",
        join_keys=("id",),
        features=("note", "flag"),
        kind="latest",
        watermark=timedelta(minutes=1),
        min_event_time=datetime(2026, 1, 1, tzinfo=UTC),
        max_future_skew=timedelta(seconds=30),
    )
    schema = EventSchema.from_spec(spec)
    docs = [
        b'{"id": 1, "flag": true, "ts": "2026-06-01T12:00:20Z"}',  # optional note absent: valid
        b'{"id": 1, "flag": 1, "ts": "2026-06-01T12:00:00Z"}',
        b'{"id": 1, "flag": false, "ts": "2025-12-31T23:59:59Z"}',
        b'{"id": 1, "flag": false, "ts": "2026-06-01T12:00:31Z"}',
        b'{"note": "n", "flag": false, "ts": "2026-06-01T12:00:00Z"}',
    ]
    out = validate_batch(schema, records(docs)).to_pydict()
    assert out["error"][0] is None and out["note"][0] is None and out["flag"][0] is True
    assert [reason_kind(e) for e in out["error"][1:]] == [
        "wrong_type",
        "impossible_timestamp",
        "impossible_timestamp",
        "missing_field",
    ]
    assert "before 2026-01-01" in out["error"][2] and "0:00:30" in out["error"][3]
    assert schema.json_schema()["required"] == ["id", "flag", "ts"]


def test_default_rules_are_the_declarations_defaults():
    from featurekit.repo import streams
    from featurekit.streaming import events

    assert (events.DEFAULT_MIN_EVENT_TIME, events.DEFAULT_MAX_FUTURE_SKEW) == (
        streams.DEFAULT_MIN_EVENT_TIME,
        streams.DEFAULT_MAX_FUTURE_SKEW,
    )
