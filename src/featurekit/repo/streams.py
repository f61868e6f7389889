"""Stream views as code: what a ``StreamFeatureView`` in the feature repo declares, read into one plain spec.

A stream view is declared with Feast's own objects plus two kit tags, all next to each other in ``feature_repo/``:

- the ``KafkaSource`` gives the topic, the event schema (``JsonFormat(schema_json=<Spark DDL>)``), the event-time
  field and the watermark; :func:`event_rules` adds the validation rules that decide what goes to the dead-letter
  topic (optional fields, allowed values, time bounds) as tags on the source, so they are versioned in the registry
  and a change shows in ``featurekit plan``;
- the ``StreamFeatureView`` gives the entity, the features and, for a windowed view, Feast ``Aggregation`` objects
  (function, column, ``time_window``, ``slide_interval``, ``name`` = the feature); :func:`stream_transform` names
  a typed ``DataFrame -> DataFrame`` function defined in the repo that shapes events before the view takes them
  (``pandas.DataFrame``: applied per micro-batch; ``pyspark.sql.DataFrame``: applied to the stream in Spark).

Two kinds follow from that: ``latest`` (no aggregations: the newest row per entity by event time) and ``window``
(aggregations: sliding or tumbling event-time windows with a watermark). :func:`stream_specs` turns every stream
view into a :class:`StreamSpec` or into problems naming the rule broken; ``featurekit check`` reports the problems
and the streaming jobs are generated from the specs, so both read the declarations the same way. This module only
reads declarations (no Spark), so the repo rules can use it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_type_hints

from featurekit.repo.loader import LoadedRepo

TAG_PREFIX = "featurekit."
TRANSFORM_TAG = "featurekit.transform"
OPTIONAL_TAG = "featurekit.optional"
CHOICES_TAG = "featurekit.choices."
MAX_FUTURE_SKEW_TAG = "featurekit.max_future_skew_s"
MIN_EVENT_TIME_TAG = "featurekit.min_event_time"

DEFAULT_MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_WATERMARK = timedelta(minutes=10)
AGGREGATION_FUNCTIONS = ("count", "sum", "min", "max", "mean")  # what Spark can keep as streaming state

Kind = Literal["int", "float", "string", "bool", "timestamp"]
# Spark DDL type -> JSON/event kind (what the validator checks and Arrow/Spark types it produces).
DDL_KINDS: dict[str, Kind] = {
    "bigint": "int",
    "long": "int",
    "int": "int",
    "integer": "int",
    "smallint": "int",
    "double": "float",
    "float": "float",
    "string": "string",
    "boolean": "bool",
    "timestamp": "timestamp",
}


# ---- declarations used by the feature repo -----------------------------------------------------------------------


def event_rules(
    *,
    optional: tuple[str, ...] | list[str] = (),
    choices: dict[str, tuple[str, ...] | list[str]] | None = None,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    min_event_time: datetime = DEFAULT_MIN_EVENT_TIME,
) -> dict[str, str]:
    """Tags for a ``KafkaSource``: the event-validation rules beyond the schema's types.

    Every schema field is required unless listed in ``optional``; ``choices`` restricts string fields to a set of
    values; an event time before ``min_event_time`` or later than the Kafka record time plus ``max_future_skew``
    is impossible. A record that breaks a rule goes to ``<topic><dlq_suffix>`` with the rule as its reason.
    """
    tags = {
        MAX_FUTURE_SKEW_TAG: str(int(max_future_skew.total_seconds())),
        MIN_EVENT_TIME_TAG: min_event_time.astimezone(UTC).isoformat(),
    }
    if optional:
        tags[OPTIONAL_TAG] = ",".join(optional)
    for name, values in (choices or {}).items():
        tags[f"{CHOICES_TAG}{name}"] = ",".join(values)
    return tags


def stream_transform(fn: Callable[[Any], Any]) -> dict[str, str]:
    """Tags for a ``StreamFeatureView``: ``fn`` (defined at the top level of a feature repo module) shapes the
    valid events before the view takes them. Its annotations say where it runs: ``pandas.DataFrame ->
    pandas.DataFrame`` per micro-batch on the driver, ``pyspark.sql.DataFrame -> pyspark.sql.DataFrame`` on the
    stream (the only choice for a windowed view: it runs before the aggregation)."""
    return {TRANSFORM_TAG: f"{fn.__module__}:{fn.__qualname__}"}


# ---- the spec the jobs are generated from ------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFieldSpec:
    name: str
    kind: Kind
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowSpec:
    """One feature computed over an event-time window: ``function(column)`` named ``name``."""

    name: str
    function: str
    column: str


@dataclass(frozen=True)
class StreamSpec:
    """Everything the kit needs to generate one stream view's job."""

    view: str
    origin: str
    source: str
    topic: str
    fields: tuple[EventFieldSpec, ...]
    timestamp_field: str
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    kind: Literal["latest", "window"]
    watermark: timedelta
    min_event_time: datetime = DEFAULT_MIN_EVENT_TIME
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW
    transform: Callable[[Any], Any] | None = None
    transform_mode: Literal["pandas", "spark"] | None = None
    transform_name: str = ""
    windows: tuple[WindowSpec, ...] = ()
    window_length: timedelta | None = None
    window_slide: timedelta | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def window_type(self) -> str:
        return "tumbling" if self.window_slide == self.window_length else "sliding"

    def describe_kind(self) -> str:
        if self.kind == "latest":
            return "latest"
        return f"{self.window_type} {_span(self.window_length)}/{_span(self.window_slide)}"


@dataclass(frozen=True)
class StreamProblem:
    view: Any
    rule: str
    message: str


def _span(delta: timedelta | None) -> str:
    seconds = int(delta.total_seconds()) if delta else 0
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_ddl(ddl: str) -> list[tuple[str, str]]:
    """``"a bigint, b string"`` -> ``[("a", "bigint"), ("b", "string")]`` (flat DDL; no nested types)."""
    out = []
    for part in (p.strip() for p in ddl.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"`?([A-Za-z_][A-Za-z0-9_]*)`?\s+([A-Za-z]+)(?:\s+NOT\s+NULL)?", part, flags=re.I)
        if match is None:
            raise ValueError(f"cannot read {part!r}: expected '<field> <type>'")
        out.append((match.group(1), match.group(2).lower()))
    return out


def stream_specs(repo: LoadedRepo) -> tuple[list[StreamSpec], list[StreamProblem]]:
    """A spec for every well-declared stream view of ``repo``, and the problems of the others."""
    specs, problems = [], []
    for view in sorted(repo.stream_views, key=lambda v: v.name):
        found = view_problems(repo, view)
        problems += found
        if not found:
            specs.append(next(x for x in _problems_and_spec(repo, view) if isinstance(x, StreamSpec)))
    return specs, problems


def view_problems(repo: LoadedRepo, view: Any) -> list[StreamProblem]:
    """What is missing or inconsistent in one stream view's declaration (empty: a job can be generated)."""
    found = [x for x in _problems_and_spec(repo, view) if isinstance(x, StreamProblem)]
    source = getattr(view, "stream_source", None)
    topic = getattr(getattr(source, "kafka_options", None), "topic", None)
    for other in repo.stream_views:
        theirs = getattr(other, "stream_source", None)
        if other is view or theirs is None or getattr(theirs, "kafka_options", None) is None:
            continue
        if theirs.kafka_options.topic == topic and _declared(theirs) != _declared(source):
            found.append(
                StreamProblem(
                    view,
                    "stream-topic",
                    f"topic {topic!r} is also read by {other.name!r} through source {theirs.name!r} with a different "
                    "schema or rules: one topic, one event declaration (share the KafkaSource)",
                )
            )
    return found


def _declared(source: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    fmt = source.kafka_options.message_format
    rules = tuple(sorted((k, v) for k, v in (source.tags or {}).items() if k.startswith(TAG_PREFIX)))
    return getattr(fmt, "schema_json", ""), rules


def _problems_and_spec(repo: LoadedRepo, view: Any) -> Iterator[StreamSpec | StreamProblem]:
    from feast import KafkaSource
    from feast.data_format import JsonFormat

    def problem(rule: str, message: str) -> StreamProblem:
        return StreamProblem(view, rule, message)

    source = getattr(view, "stream_source", None)
    if not isinstance(source, KafkaSource):
        yield problem("stream-source", f"source must be a KafkaSource, got {type(source).__name__}")
        return
    options = source.kafka_options
    topic = options.topic or ""
    if not topic:
        yield problem("stream-topic", f"KafkaSource {source.name!r} has no topic")
    fmt = options.message_format
    if not isinstance(fmt, JsonFormat) or not fmt.schema_json:
        yield problem(
            "stream-schema",
            f"KafkaSource {source.name!r} needs message_format=JsonFormat(schema_json='<field> <type>, ...')",
        )
        return
    try:
        columns = parse_ddl(fmt.schema_json)
    except ValueError as exc:
        yield problem("stream-schema", f"KafkaSource {source.name!r} schema: {exc}")
        return
    tags = dict(source.tags or {})
    optional = {n for n in tags.get(OPTIONAL_TAG, "").split(",") if n}
    fields = []
    names = [n for n, _ in columns]
    for name, ddl_type in columns:
        field_kind = DDL_KINDS.get(ddl_type)
        if field_kind is None:
            yield problem(
                "stream-schema",
                f"KafkaSource {source.name!r} field {name!r} has type {ddl_type!r}; supported: {sorted(DDL_KINDS)}",
            )
            continue
        choices = tuple(c for c in tags.get(f"{CHOICES_TAG}{name}", "").split(",") if c)
        fields.append(EventFieldSpec(name, field_kind, name not in optional, choices))
    for tag in tags:
        if tag.startswith(CHOICES_TAG) and tag[len(CHOICES_TAG) :] not in names:
            yield problem("stream-rules", f"rule {tag!r} names a field that is not in the event schema {names}")
    for name in optional - set(names):
        yield problem("stream-rules", f"optional field {name!r} is not in the event schema {names}")
    ts_field = source.timestamp_field or view.timestamp_field
    kinds = {f.name: f.kind for f in fields}
    if kinds.get(ts_field) != "timestamp":
        yield problem("stream-schema", f"event-time field {ts_field!r} must be a timestamp in the event schema")
    join_keys = tuple(view.join_keys) if getattr(view, "join_keys", None) else ()
    for key in join_keys:
        if key not in kinds:
            yield problem("stream-schema", f"join key {key!r} is not a field of the event schema {names}")
    try:
        skew = timedelta(seconds=int(tags.get(MAX_FUTURE_SKEW_TAG, DEFAULT_MAX_FUTURE_SKEW.total_seconds())))
        floor = datetime.fromisoformat(tags.get(MIN_EVENT_TIME_TAG, DEFAULT_MIN_EVENT_TIME.isoformat()))
    except ValueError as exc:
        yield problem("stream-rules", f"time bounds on KafkaSource {source.name!r}: {exc}")
        return
    features = tuple(f.name for f in view.features if f.name not in join_keys)

    transform, mode, transform_name = None, None, view.tags.get(TRANSFORM_TAG, "")
    if transform_name:
        transform = repo.functions.get(transform_name)
        if transform is None:
            yield problem(
                "stream-transform",
                f"transform {transform_name!r} is not a top-level function of the feature repo",
            )
        else:
            mode = _transform_mode(transform)
            if mode is None:
                yield problem(
                    "stream-transform",
                    f"transform {transform_name!r} must be annotated DataFrame -> DataFrame (pandas or pyspark.sql)",
                )

    aggregations = list(getattr(view, "aggregations", []) or [])
    windows: list[WindowSpec] = []
    length = slide = None
    if aggregations:
        kind: Literal["latest", "window"] = "window"
        spans = {(a.time_window, a.slide_interval) for a in aggregations}
        if len(spans) != 1 or None in next(iter(spans)):
            yield problem("stream-window", "every aggregation needs the same time_window and slide_interval")
        else:
            length, slide = next(iter(spans))
            if slide > length or length.total_seconds() % slide.total_seconds():
                yield problem("stream-window", f"slide_interval {slide} must divide time_window {length}")
        for agg in aggregations:
            if agg.function not in AGGREGATION_FUNCTIONS:
                yield problem("stream-window", f"aggregation function {agg.function!r}: use {AGGREGATION_FUNCTIONS}")
            if not agg.name:
                yield problem("stream-window", f"aggregation {agg.function}({agg.column}) needs name=<feature>")
            windows.append(WindowSpec(agg.name, agg.function, agg.column))
        produced = {w.name for w in windows}
        if set(features) != produced:
            yield problem(
                "stream-window",
                f"features {sorted(features)} must be exactly the aggregations' names {sorted(produced)}",
            )
        if transform is None:
            for w in windows:
                if w.column not in kinds:
                    yield problem(
                        "stream-window",
                        f"aggregation {w.name!r} reads column {w.column!r}, which is not in the event schema "
                        f"{names} (add a stream_transform that derives it)",
                    )
        elif mode == "pandas":
            yield problem("stream-transform", "a windowed view's transform runs in Spark: annotate pyspark DataFrames")
    else:
        kind = "latest"
        if mode == "spark":
            yield problem(
                "stream-transform", "a latest-value view's transform runs per micro-batch: annotate pandas DataFrames"
            )
        if transform is None:
            missing = [f for f in features if f not in kinds]
            if missing:
                yield problem(
                    "stream-schema",
                    f"features {missing} are not in the event schema {names} (add a stream_transform deriving them)",
                )
    watermark = options.watermark_delay_threshold or DEFAULT_WATERMARK
    yield StreamSpec(
        view=view.name,
        origin=repo.origin(view),
        source=source.name,
        topic=topic,
        fields=tuple(fields),
        timestamp_field=ts_field,
        join_keys=join_keys,
        features=features,
        kind=kind,
        watermark=watermark,
        min_event_time=floor,
        max_future_skew=skew,
        transform=transform,
        transform_mode=mode,
        transform_name=transform_name,
        windows=tuple(windows),
        window_length=length,
        window_slide=slide,
        tags=dict(view.tags or {}),
    )


def _transform_mode(fn: Callable[[Any], Any]) -> Literal["pandas", "spark"] | None:
    """``pandas``/``spark`` from the annotations of ``fn(events) -> rows``; None when they are not DataFrames."""
    try:
        hints = get_type_hints(fn)
    except Exception:
        return None
    params = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty]
    if len(params) != 1:
        return None
    arg, ret = hints.get(params[0].name), hints.get("return")
    modes = {_frame_mode(arg), _frame_mode(ret)}
    return modes.pop() if len(modes) == 1 and None not in modes else None


def _frame_mode(annotation: Any) -> Literal["pandas", "spark"] | None:
    module = getattr(annotation, "__module__", "") or ""
    if getattr(annotation, "__name__", "") != "DataFrame":
        return None
    if module.startswith("pandas"):
        return "pandas"
    if module.startswith("pyspark"):
        return "spark"
    return None
