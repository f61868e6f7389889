"""The generated transformations: Kafka records -> typed events -> a stream view's rows, from its :class:`StreamSpec`.

``parse_events`` turns Kafka records (either source format) into typed events plus dead letters. The view's rows
(join keys, features, ``event_timestamp``) then come from one of two kinds:

- :func:`latest_rows` (``latest``, stateless), applied to each micro-batch on the driver: the view's pandas
  transform (if declared), then the newest row per entity by event time (ties: the later offset). Ordering across
  batches, replays and late events is the online store's newer-wins rule, so the value served never goes back in
  time.
- :func:`window_rows` (``window``, stateful), applied to the stream: a watermark on the event time, the view's
  Spark transform (if declared), then the Feast ``Aggregation`` functions over sliding or tumbling event-time
  windows. Events older than the watermark are dropped by Spark (counted from the query progress as late events).
  Each entity's row is the window that is *current* at its newest event ``T``: the one ending at the first slide
  boundary after ``T``, so it covers at least ``window - slide`` of history up to ``T``; the row is stamped ``T``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from featurekit.offline.layout import TIMESTAMP_FIELD
from featurekit.repo.streams import StreamSpec
from featurekit.streaming.errors import StreamConfigError
from featurekit.streaming.events import EventSchema, validate_batches

LAST_EVENT = "__featurekit_last_event"
_AGGREGATE = {"count": F.count, "sum": F.sum, "min": F.min, "max": F.max, "mean": F.avg}


def parse_events(records: DataFrame, schema: EventSchema) -> DataFrame:
    """Kafka records -> typed events; rows that break a rule carry ``error`` and their original bytes."""
    return records.mapInArrow(functools.partial(validate_batches, schema), schema.spark_ddl)


def valid_events(events: DataFrame) -> DataFrame:
    return events.where(F.col("error").isNull())


def dead_letters(events: DataFrame) -> DataFrame:
    return events.where(F.col("error").isNotNull()).select(
        "topic", "partition", "offset", "kafka_timestamp", "key", "value", "error"
    )


def latest_rows(spec: StreamSpec, events: pa.Table) -> pa.Table:
    """Valid events of one micro-batch -> the newest row per entity in the view's shape (Arrow in, Arrow out)."""
    if "error" in events.column_names and events.column("error").null_count < events.num_rows:
        events = events.filter(pc.is_null(events.column("error")))
    keep = [f.name for f in spec.fields] + (["offset"] if "offset" in events.column_names else [])
    events = events.select(keep)
    if events.num_rows == 0:
        # Nothing valid in this micro-batch (empty poll, or every event dead-lettered): nothing to write. The transform
        # is not asked to handle an empty frame, so its derived columns cannot be checked; the sink writes no rows.
        return _empty_rows(spec, events)
    if spec.transform is not None:
        out = spec.transform(events.to_pandas(types_mapper=_nullable))
        events = pa.Table.from_pandas(out, preserve_index=False)
    missing = [c for c in (*spec.join_keys, *spec.features, spec.timestamp_field) if c not in events.column_names]
    if missing:
        raise StreamConfigError(f"stream view {spec.view}: transform {spec.transform_name} did not produce {missing}")
    if events.num_rows:  # a transform may drop every row
        order = [(k, "ascending") for k in spec.join_keys] + [(spec.timestamp_field, "descending")]
        if "offset" in events.column_names:
            order.append(("offset", "descending"))
        ordered = events.sort_by(order)
        first = np.zeros(ordered.num_rows, dtype=bool)
        first[0] = True
        for key in spec.join_keys:
            values = ordered.column(key).to_numpy(zero_copy_only=False)
            first[1:] |= values[1:] != values[:-1]
        events = ordered.filter(pa.array(first))
    stamps = events.column(spec.timestamp_field).cast(pa.timestamp("us", tz="UTC"))
    columns = {c: events.column(c) for c in (*spec.join_keys, *spec.features)}
    return pa.table({**columns, TIMESTAMP_FIELD: stamps})


def _empty_rows(spec: StreamSpec, events: pa.Table) -> pa.Table:
    """A zero-row result in the view's column order: event columns keep their type, derived ones are null-typed."""
    columns = {
        c: events.column(c) if c in events.column_names else pa.array([], pa.null())
        for c in (*spec.join_keys, *spec.features)
    }
    return pa.table({**columns, TIMESTAMP_FIELD: pa.array([], pa.timestamp("us", tz="UTC"))})


def _nullable(arrow_type: pa.DataType) -> Any:
    """Integers stay integers through pandas even with nulls (optional fields)."""
    import pandas as pd

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    return None


def window_rows(spec: StreamSpec, events: DataFrame) -> DataFrame:
    """Valid events -> windowed aggregates per entity (stateful on a stream; output mode ``update``)."""
    ts = spec.timestamp_field
    watermarked = events.withWatermark(ts, f"{int(spec.watermark.total_seconds())} seconds")
    shaped = spec.transform(watermarked) if spec.transform is not None else watermarked
    length = f"{int(spec.window_length.total_seconds())} seconds"  # type: ignore[union-attr]
    slide = f"{int(spec.window_slide.total_seconds())} seconds"  # type: ignore[union-attr]
    windows = shaped.groupBy(F.window(ts, length, slide), *spec.join_keys).agg(
        *[_AGGREGATE[w.function](w.column).alias(w.name) for w in spec.windows],
        F.max(ts).alias(LAST_EVENT),
    )
    current = windows.where(F.col(LAST_EVENT) >= F.col("window.end") - F.expr(f"INTERVAL {slide}"))
    return current.select(*spec.join_keys, *spec.features, F.col(LAST_EVENT).alias(TIMESTAMP_FIELD))
