"""Transaction aggregates at three horizons: 30 days (daily), 24 hours (hourly), 1 hour (stream)."""

from datetime import timedelta

from data_sources import transaction_events, user_txn_24h_source, user_txn_30d_source
from entities import user
from feast import FeatureView, Field
from feast.stream_feature_view import StreamFeatureView
from feast.types import Float64, Int64

OWNER = "risk-ml@featurekit.example"

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
    online=True,
    description="Rolling one-hour counters from the transactions stream (Spark, event time, watermark).",
    owner=OWNER,
    tags={"tier": "hot", "schedule": "stream", "freshness_slo": "5m", "domain": "cash_advance"},
)
