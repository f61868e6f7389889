"""The stream feature views as DataFrame -> DataFrame functions.

``parse_events`` turns Kafka records (either source format) into typed events plus dead letters. The feature
transforms then produce rows in the view's offline/online shape (join key, features, ``event_timestamp``):

- :func:`user_balance_live` is stateless, applied to each micro-batch: the latest balance per user in the batch.
  Ordering across batches (and against replays and late events) is the online store's newer-wins rule, so the value
  served never goes back in time.
- :func:`user_txn_1h` is stateful, applied to the stream: counts and sums over a sliding one-hour event-time window
  (hop ``HOP``) with a watermark. Events older than the watermark are dropped from the aggregates by Spark (counted
  from the query progress as late events). Each user's row is the window that is *current* at the user's newest
  event ``T``: the one ending at the first hop boundary after ``T``, so it covers at least ``1h - HOP`` of history
  up to ``T``; the row is stamped with ``T``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from featurekit.streaming.events import EventSchema, validate_batches

WINDOW = "1 hour"
HOP = "5 minutes"
DEFAULT_WATERMARK = timedelta(minutes=10)


def parse_events(records: DataFrame, schema: EventSchema) -> DataFrame:
    """Kafka records -> typed events; rows that break a rule carry ``error`` and their original bytes."""
    return records.mapInArrow(functools.partial(validate_batches, schema), schema.spark_ddl)


def valid_events(events: DataFrame) -> DataFrame:
    return events.where(F.col("error").isNull())


def dead_letters(events: DataFrame) -> DataFrame:
    return events.where(F.col("error").isNotNull()).select(
        "topic", "partition", "offset", "kafka_timestamp", "key", "value", "error"
    )


BALANCE_ROW_DDL = (
    "user_id bigint, balance double, balance_source string, balance_observed_at bigint, event_timestamp timestamp"
)


def latest_balances(events: pa.Table) -> pa.Table:
    """Arrow kernel of ``user_balance_live``: the latest valid event per user by event time (ties: later offset)
    as view rows. Used per micro-batch by the sink (one collect, no shuffle) and by :func:`user_balance_live`."""
    if "error" in events.column_names:
        events = events.filter(pc.is_null(events.column("error")))
    if events.num_rows == 0:
        return pa.table(
            {
                "user_id": pa.array([], pa.int64()),
                "balance": pa.array([], pa.float64()),
                "balance_source": pa.array([], pa.string()),
                "balance_observed_at": pa.array([], pa.int64()),
                "event_timestamp": pa.array([], pa.timestamp("us", tz="UTC")),
            }
        )
    ordered = events.sort_by([("user_id", "ascending"), ("event_timestamp", "descending"), ("offset", "descending")])
    users = ordered.column("user_id").to_numpy()
    first = np.empty(len(users), dtype=bool)
    first[0] = True
    first[1:] = users[1:] != users[:-1]
    latest = ordered.filter(pa.array(first))
    stamps = latest.column("event_timestamp")
    observed = pc.divide(stamps.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), 1_000_000)
    return pa.table(
        {
            "user_id": latest.column("user_id"),
            "balance": latest.column("balance"),
            "balance_source": latest.column("balance_source"),
            "balance_observed_at": observed,
            "event_timestamp": stamps.cast(pa.timestamp("us", tz="UTC")),
        }
    )


def _latest_balance_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    collected = [b for b in batches if b.num_rows]
    if collected:
        yield from latest_balances(pa.Table.from_batches(collected)).to_batches()


def user_balance_live(events: DataFrame) -> DataFrame:
    """Latest balance per user by event time, with its source and observation time (unix seconds).

    Computed within each partition (no shuffle): Kafka keys events by user, and where a user still appears in two
    partitions the online store's newer-wins rule keeps the newer row, so the result served is the same.
    """
    return events.mapInArrow(_latest_balance_batches, BALANCE_ROW_DDL)


def user_txn_1h(events: DataFrame, *, watermark: timedelta = DEFAULT_WATERMARK, hop: str = HOP) -> DataFrame:
    """Sliding one-hour transaction counters per user (stateful; output mode ``update``).

    A transaction id seen twice within the watermark (a producer retry) is counted once.
    """
    delay = f"{int(watermark.total_seconds())} seconds"
    watermarked = events.withWatermark("event_timestamp", delay)
    # A streaming query keeps seen ids only within the watermark; a static frame (backfill, tests) sees them all.
    if events.isStreaming:
        unique = watermarked.dropDuplicatesWithinWatermark(["txn_id"])
    else:
        unique = watermarked.dropDuplicates(["txn_id"])
    windows = unique.groupBy(F.window("event_timestamp", WINDOW, hop), "user_id").agg(
        F.count(F.lit(1)).alias("txn_count_1h"),
        F.sum(F.when(F.col("amount") < 0, -F.col("amount")).otherwise(F.lit(0.0))).alias("spend_1h"),
        F.sum(F.when(F.col("amount") > 0, F.col("amount")).otherwise(F.lit(0.0))).alias("income_1h"),
        F.max("event_timestamp").alias("last_event_at"),
    )
    current = windows.where(F.col("last_event_at") >= F.col("window.end") - F.expr(f"INTERVAL {hop}"))
    return current.select(
        "user_id",
        "txn_count_1h",
        "spend_1h",
        "income_1h",
        F.col("last_event_at").alias("event_timestamp"),
    )
