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
from datetime import timedelta

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


def user_balance_live(events: DataFrame) -> DataFrame:
    """Latest balance per user by event time (ties: the later Kafka offset), with its source and age anchor."""
    latest = events.groupBy("user_id").agg(
        F.max_by(
            F.struct("balance", "balance_source", "event_timestamp"),
            F.struct("event_timestamp", "offset"),
        ).alias("b")
    )
    return latest.select(
        "user_id",
        F.col("b.balance").alias("balance"),
        F.col("b.balance_source").alias("balance_source"),
        F.unix_seconds(F.col("b.event_timestamp")).alias("balance_observed_at"),
        F.col("b.event_timestamp").alias("event_timestamp"),
    )


def user_txn_1h(events: DataFrame, *, watermark: timedelta = DEFAULT_WATERMARK, hop: str = HOP) -> DataFrame:
    """Sliding one-hour transaction counters per user (stateful; output mode ``update``).

    A transaction id seen twice within the watermark (a producer retry) is counted once.
    """
    delay = f"{int(watermark.total_seconds())} seconds"
    windows = (
        events.withWatermark("event_timestamp", delay)
        .dropDuplicatesWithinWatermark(["txn_id"])
        .groupBy(F.window("event_timestamp", WINDOW, hop), "user_id")
        .agg(
            F.count(F.lit(1)).alias("txn_count_1h"),
            F.sum(F.when(F.col("amount") < 0, -F.col("amount")).otherwise(F.lit(0.0))).alias("spend_1h"),
            F.sum(F.when(F.col("amount") > 0, F.col("amount")).otherwise(F.lit(0.0))).alias("income_1h"),
            F.max("event_timestamp").alias("last_event_at"),
        )
    )
    current = windows.where(F.col("last_event_at") >= F.col("window.end") - F.expr(f"INTERVAL {hop}"))
    return current.select(
        "user_id",
        "txn_count_1h",
        "spend_1h",
        "income_1h",
        F.col("last_event_at").alias("event_timestamp"),
    )
