"""Transaction aggregates at three horizons: 30 days (daily), 24 hours (hourly), 1 hour (stream)."""

from datetime import timedelta

from data_sources import transaction_events, user_txn_24h_source, user_txn_30d_source
from entities import user
from feast import Aggregation, FeatureView, Field
from feast.stream_feature_view import StreamFeatureView
from feast.types import Float64, Int64
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from featurekit.repo.streams import stream_transform

OWNER = "risk-ml@featurekit.example"


def txn_amounts(events: DataFrame) -> DataFrame:
    """Transactions -> one row per transaction id (a producer retry within the watermark counts once) with its
    debit and credit as positive amounts, the columns the one-hour aggregations sum."""
    unique = (
        events.dropDuplicatesWithinWatermark(["txn_id"]) if events.isStreaming else events.dropDuplicates(["txn_id"])
    )
    amount = F.col("amount")
    return unique.withColumn("debit", F.when(amount < 0, -amount).otherwise(F.lit(0.0))).withColumn(
        "credit", F.when(amount > 0, amount).otherwise(F.lit(0.0))
    )


HOUR, HOP = timedelta(hours=1), timedelta(minutes=5)

user_txn_30d = FeatureView(
    name="user_txn_30d",
    entities=[user],
    ttl=timedelta(days=3),
    schema=[
        Field(name="user_id", dtype=Int64, description="Join key of the user entity."),
        Field(name="txn_count_30d", dtype=Int64, description="Transactions in the 30 days before the snapshot."),
        Field(name="spend_30d", dtype=Float64, description="Sum of debits (positive number) over 30 days."),
        Field(name="income_30d", dtype=Float64, description="Sum of credits over 30 days (payroll and transfers)."),
        Field(name="avg_txn_amount_30d", dtype=Float64, description="Mean absolute transaction amount, 30 days."),
        Field(
            name="overdraft_count_30d", dtype=Int64, description="Debits that took a non-negative balance below zero."
        ),
    ],
    source=user_txn_30d_source,
    online=True,
    description="30-day spend, income and overdraft behaviour; the core affordability signal.",
    owner=OWNER,
    tags={"tier": "warm", "schedule": "daily", "freshness_slo": "30h", "domain": "cash_advance"},
)

user_txn_24h = FeatureView(
    name="user_txn_24h",
    entities=[user],
    ttl=timedelta(hours=3),
    schema=[
        Field(name="user_id", dtype=Int64, description="Join key of the user entity."),
        Field(name="txn_count_24h", dtype=Int64, description="Transactions in the last 24 hours."),
        Field(name="spend_24h", dtype=Float64, description="Sum of debits over 24 hours."),
        Field(name="income_24h", dtype=Float64, description="Sum of credits over 24 hours."),
        Field(name="max_debit_24h", dtype=Float64, description="Largest single debit over 24 hours."),
    ],
    source=user_txn_24h_source,
    online=True,
    description="Last-day activity, refreshed hourly; catches sudden spending before a request.",
    owner=OWNER,
    tags={"tier": "hot", "schedule": "hourly", "freshness_slo": "2h", "domain": "cash_advance"},
)


user_txn_1h = StreamFeatureView(
    name="user_txn_1h",
    entities=[user],
    ttl=timedelta(hours=2),
    schema=[
        Field(name="user_id", dtype=Int64, description="Join key of the user entity."),
        Field(name="txn_count_1h", dtype=Int64, description="Transactions in the sliding last hour."),
        Field(name="spend_1h", dtype=Float64, description="Sum of debits in the sliding last hour."),
        Field(name="income_1h", dtype=Float64, description="Sum of credits in the sliding last hour."),
    ],
    source=transaction_events,
    timestamp_field="event_timestamp",
    aggregations=[
        Aggregation(column="txn_id", function="count", time_window=HOUR, slide_interval=HOP, name="txn_count_1h"),
        Aggregation(column="debit", function="sum", time_window=HOUR, slide_interval=HOP, name="spend_1h"),
        Aggregation(column="credit", function="sum", time_window=HOUR, slide_interval=HOP, name="income_1h"),
    ],
    online=True,
    description="Rolling one-hour counters from the transactions stream (Spark, event time, watermark).",
    owner=OWNER,
    tags={
        "tier": "hot",
        "schedule": "stream",
        "freshness_slo": "5m",
        "domain": "cash_advance",
        **stream_transform(txn_amounts),
    },
)
