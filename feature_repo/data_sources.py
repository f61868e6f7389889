"""Data sources. Their physical location comes from the environment's settings.

``offline_source`` builds a parquet file source locally and an Athena table source on AWS, from
``config/<env>.yaml``; the feature definitions below are the same in every environment.
"""

from featurekit.config.active import current_settings
from featurekit.offline.sources import kafka_source, offline_source

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
    topic=settings.kafka.balance_topic,
    schema="user_id bigint, balance double, balance_source string, event_timestamp timestamp",
    batch_source=offline_source(
        settings, "user_balance_live", "Latest balances: warehouse backfill plus the stream's offline sink."
    ),
    description="Balance updates: pushed by the bank-data provider (passive) or fetched by a paid call (active).",
)

transaction_events = kafka_source(
    settings,
    name="transaction_events",
    topic=settings.kafka.transactions_topic,
    schema="txn_id bigint, user_id bigint, amount double, category string, event_timestamp timestamp",
    batch_source=offline_source(
        settings, "user_txn_1h", "Rolling 1-hour counters: warehouse backfill plus the stream's offline sink."
    ),
    description="Card and account transactions as they settle.",
)
