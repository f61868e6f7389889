"""The JSON event schema of a stream view's topic, and the validation that splits records into events and dead letters.

The schema is not written here: it is derived from the feature repo's ``KafkaSource`` (its Spark DDL and the
:func:`featurekit.repo.streams.event_rules` tags) by :meth:`EventSchema.from_spec`.

Every record is either a valid event (typed columns, ``error`` null) or a dead letter (``error`` says why, the
original ``key``/``value`` bytes are kept so the DLQ can hold them unchanged). Validation is a pure function over an
Arrow batch of Kafka records, so it runs inside Spark (``mapInArrow``) and in unit tests alike, and it is
deterministic: an "impossible" timestamp is judged against the record's Kafka timestamp, not the wall clock, so a
replay after a crash classifies every record exactly as the first attempt did.

Rules (the reason strings start with the rule name, which is also the metrics label):
- ``unparseable``: not UTF-8 JSON, or not a JSON object;
- ``missing_field``: a required field is absent or null (fields are required unless declared optional);
- ``wrong_type``: a field has the wrong JSON type or a value outside its declared choices;
- ``impossible_timestamp``: not ISO-8601 with a UTC offset, before the schema's ``min_event_time`` (default
  2000-01-01), or more than ``max_future_skew`` (default 5 minutes) after the Kafka record timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # Spark's Python workers import this module: keep it free of the repo/config layers
    from featurekit.repo.streams import Kind, StreamSpec

DEFAULT_MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # = featurekit.repo.streams' defaults (tested)
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)

# "expectation": a well-formed event rejected by its view's expectations (featurekit.quality.stream_gate).
REASONS = ("unparseable", "missing_field", "wrong_type", "impossible_timestamp", "expectation")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ARROW = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_SPARK = {"int": "bigint", "float": "double", "string": "string", "bool": "boolean", "timestamp": "timestamp"}
# Kafka metadata kept next to the event fields, and the dead-letter columns.
META_FIELDS = [
    pa.field("topic", pa.string()),
    pa.field("partition", pa.int32()),
    pa.field("offset", pa.int64()),
    pa.field("kafka_timestamp", pa.timestamp("us", tz="UTC")),
    pa.field("key", pa.binary()),
    pa.field("value", pa.binary()),
    pa.field("error", pa.string()),
]


@dataclass(frozen=True)
class EventField:
    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    description: str = ""
    required: bool = True


@dataclass(frozen=True)
class EventSchema:
    """One topic's event: its fields, their JSON types, which are required, and the event-time bounds."""

    name: str
    fields: tuple[EventField, ...]
    description: str = ""
    min_event_time: datetime = DEFAULT_MIN_EVENT_TIME
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW

    @classmethod
    def from_spec(cls, spec: StreamSpec) -> EventSchema:
        """The schema a stream view's ``KafkaSource`` declares (types from its DDL, rules from its tags)."""
        return cls(
            name=spec.source,
            fields=tuple(EventField(f.name, f.kind, f.choices, required=f.required) for f in spec.fields),
            description=f"events of topic {spec.topic}",
            min_event_time=spec.min_event_time,
            max_future_skew=spec.max_future_skew,
        )

    @property
    def arrow_schema(self) -> pa.Schema:
        """Parsed-record columns: event fields, then Kafka metadata and ``value``/``error`` for dead letters."""
        return pa.schema([pa.field(f.name, _ARROW[f.kind]) for f in self.fields] + META_FIELDS)

    @property
    def spark_ddl(self) -> str:
        event = ", ".join(f"{f.name} {_SPARK[f.kind]}" for f in self.fields)
        return (
            f"{event}, topic string, partition int, offset bigint, kafka_timestamp timestamp, "
            "key binary, value binary, error string"
        )

    def json_schema(self) -> dict[str, Any]:
        """The schema as JSON Schema, for producers and the docs."""
        kinds = {"int": "integer", "float": "number", "string": "string", "bool": "boolean"}
        props: dict[str, Any] = {}
        for f in self.fields:
            prop: dict[str, Any] = (
                {"type": "string", "format": "date-time"} if f.kind == "timestamp" else {"type": kinds[f.kind]}
            )
            if f.choices:
                prop["enum"] = list(f.choices)
            if f.description:
                prop["description"] = f.description
            props[f.name] = prop
        return {
            "title": self.name,
            "type": "object",
            "required": [f.name for f in self.fields if f.required],
            "properties": props,
        }


class InvalidEvent(ValueError):
    """One record broke a rule; ``str(exc)`` is the reason stored with the dead letter."""


def reason_kind(reason: str) -> str:
    """The rule name at the start of a reason (the metrics label)."""
    head = reason.split(":", 1)[0]
    return head if head in REASONS else "unparseable"


def _check(schema: EventSchema, field: EventField, value: Any, reference: datetime | None) -> Any:
    if value is None:
        if not field.required:
            return None
        raise InvalidEvent(f"missing_field: {field.name!r} is required")
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEvent(f"wrong_type: {field.name!r} must be an integer, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise InvalidEvent(f"wrong_type: {field.name!r}={value} does not fit in 64 bits")
        return value
    if field.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidEvent(f"wrong_type: {field.name!r} must be a number, got {type(value).__name__}")
        return float(value)
    if field.kind == "string":
        if not isinstance(value, str):
            raise InvalidEvent(f"wrong_type: {field.name!r} must be a string, got {type(value).__name__}")
        if field.choices and value not in field.choices:
            raise InvalidEvent(f"wrong_type: {field.name!r}={value!r} is not one of {list(field.choices)}")
        return value
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidEvent(f"wrong_type: {field.name!r} must be true or false, got {type(value).__name__}")
        return value
    return _timestamp(schema, field.name, value, reference)


def _timestamp(schema: EventSchema, name: str, value: Any, reference: datetime | None) -> int:
    if not isinstance(value, str):
        raise InvalidEvent(f"wrong_type: {name!r} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"impossible_timestamp: {name!r}={value!r} is not an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidEvent(f"impossible_timestamp: {name!r}={value!r} has no UTC offset")
    if moment < schema.min_event_time:
        raise InvalidEvent(f"impossible_timestamp: {name!r}={value!r} is before {schema.min_event_time:%Y-%m-%d}")
    if reference is not None and moment > reference + schema.max_future_skew:
        raise InvalidEvent(
            f"impossible_timestamp: {name!r}={value!r} is after the Kafka record time "
            f"{reference.isoformat()} by more than {schema.max_future_skew}"
        )
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_value(schema: EventSchema, value: bytes | None, reference: datetime | None) -> list[Any]:
    """The typed field values of one record (timestamps as epoch microseconds), or :class:`InvalidEvent`."""
    if value is None:
        raise InvalidEvent("unparseable: record has no value (tombstone)")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"unparseable: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InvalidEvent(f"unparseable: expected a JSON object, got {type(doc).__name__}")
    return [_check(schema, f, doc.get(f.name), reference) for f in schema.fields]


def validate_batch(schema: EventSchema, batch: pa.RecordBatch) -> pa.RecordBatch:
    """Kafka records (the source's columns) -> parsed records with ``error`` set on dead letters.

    Valid rows drop their ``key``/``value`` bytes (null) so only dead letters carry them further.
    """
    n = batch.num_rows
    values = batch.column("value").to_pylist()
    stamps = batch.column("timestamp").to_pylist()
    keys = batch.column("key")
    columns: list[list[Any]] = [[] for _ in schema.fields]
    errors: list[str | None] = []
    bad = []
    for i in range(n):
        try:
            parsed = parse_value(schema, values[i], stamps[i])
        except InvalidEvent as exc:
            for col in columns:
                col.append(None)
            errors.append(str(exc))
            bad.append(i)
            continue
        for col, v in zip(columns, parsed, strict=False):
            col.append(v)
        errors.append(None)
    keep = pa.array([False] * n)
    if bad:
        mask = [False] * n
        for i in bad:
            mask[i] = True
        keep = pa.array(mask)
    null_bin = pa.nulls(n, pa.binary())
    arrays = [
        pa.array(col, pa.int64()).cast(_ARROW[f.kind]) if f.kind == "timestamp" else pa.array(col, _ARROW[f.kind])
        for f, col in zip(schema.fields, columns, strict=False)
    ]
    arrays += [
        batch.column("topic"),
        batch.column("partition"),
        batch.column("offset"),
        batch.column("timestamp"),
        pc.if_else(keep, keys, null_bin) if bad else null_bin,
        pc.if_else(keep, batch.column("value"), null_bin) if bad else null_bin,
        pa.array(errors, pa.string()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema)


def validate_batches(schema: EventSchema, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function: validate each batch of Kafka records."""
    for batch in batches:
        if batch.num_rows:
            yield validate_batch(schema, batch)
