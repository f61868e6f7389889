"""Feast data sources for the feature repo, built from the environment's offline store settings.

The feature repo calls :func:`offline_source` and :func:`kafka_source`; the configured offline backend builds the
source (locally Feast's file source over the parquet partitions, read by DuckDB; on AWS the Glue table over the same
layout in S3, read by Athena). The definitions themselves are identical in every environment.
"""

from __future__ import annotations

from datetime import timedelta

from feast import KafkaSource
from feast.data_format import JsonFormat
from feast.data_source import DataSource

from featurekit.config.settings import Settings
from featurekit.offline.layout import SOURCE_OWNER, TIMESTAMP_FIELD


def offline_source(settings: Settings, view: str, description: str) -> DataSource:
    """The offline source holding ``view``'s rows (``event_timestamp``, ``created``, join keys, features)."""
    return settings.offline_store.feast_source(view, description)


def kafka_source(
    settings: Settings,
    *,
    name: str,
    topic: str,
    schema: str,
    batch_source: DataSource,
    description: str,
    rules: dict[str, str] | None = None,
    watermark: timedelta = timedelta(minutes=10),
) -> KafkaSource:
    """A Kafka topic of JSON events on the environment's brokers; ``schema`` is the Spark DDL of one event and
    ``rules`` the event-validation tags (``featurekit.repo.streams.event_rules``)."""
    return KafkaSource(
        name=name,
        kafka_bootstrap_servers=settings.kafka.bootstrap_servers,
        topic=topic,
        message_format=JsonFormat(schema_json=schema),
        timestamp_field=TIMESTAMP_FIELD,
        batch_source=batch_source,
        watermark_delay_threshold=watermark,
        description=description,
        owner=SOURCE_OWNER,
        tags={"topic": topic, **(rules or {})},
    )
