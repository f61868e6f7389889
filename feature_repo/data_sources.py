"""Data sources. Their physical location comes from the environment's settings.

``offline_source`` builds a parquet file source locally and an Athena table source on AWS, from
``config/<env>.yaml``; the feature definitions below are the same in every environment. ``kafka_source`` is a Feast
``KafkaSource`` on the environment's brokers: the topic and the event schema (Spark DDL) are declared here, with
the event-validation rules that send a record to ``<topic>.dlq`` instead of the features.
"""

from datetime import timedelta

from featurekit.config.active import current_settings
from featurekit.offline.sources import kafka_source, offline_source
from featurekit.repo.streams import event_rules

settings = current_settings()

user_profile_source = offline_source(settings, "user_profile", "Daily snapshot of user attributes from `users`.")
user_txn_30d_source = offline_source(
    settings, "user_txn_30d", "Daily 30-day transaction aggregates from `transactions`."
)
user_txn_24h_source = offline_source(
    settings, "user_txn_24h", "Hourly 24-hour transaction aggregates from `transactions`."
)

balance_events = kafka_source(
    settings,
    name="balance_events",
    topic="balance-events",
    schema="user_id bigint, balance double, balance_source string, event_timestamp timestamp",
    rules=event_rules(choices={"balance_source": ["passive", "active"]}, max_future_skew=timedelta(minutes=5)),
    batch_source=offline_source(
        settings, "user_balance_live", "Latest balances: warehouse backfill plus the stream's offline sink."
    ),
    description="Balance updates: pushed by the bank-data provider (passive) or fetched by a paid call (active).",
)

transaction_events = kafka_source(
    settings,
    name="transaction_events",
    topic="transactions",
    schema="txn_id bigint, user_id bigint, amount double, category string, event_timestamp timestamp",
    rules=event_rules(max_future_skew=timedelta(minutes=5)),
    watermark=timedelta(minutes=10),
    batch_source=offline_source(
        settings, "user_txn_1h", "Rolling 1-hour counters: warehouse backfill plus the stream's offline sink."
    ),
    description="Card and account transactions as they settle.",
)
