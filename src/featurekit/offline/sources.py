"""Feast data sources for the feature repo, built from the environment's offline store settings.

The feature repo calls :func:`offline_source` and :func:`kafka_source`; locally they point Feast at the parquet
partitions (read by Feast's DuckDB offline store), on AWS at the Glue tables over the same layout in S3 (read by
Feast's Athena offline store). The definitions themselves are identical in every environment.
"""

from __future__ import annotations

from datetime import timedelta
from functools import singledispatch

from feast import FileSource, KafkaSource
from feast.data_format import JsonFormat, ParquetFormat
from feast.data_source import DataSource
from feast.infra.offline_stores.contrib.athena_offline_store.athena_source import AthenaSource

from featurekit.config.settings import AthenaOfflineStore, ParquetOfflineStore, Settings
from featurekit.offline.layout import CREATED_FIELD, TIMESTAMP_FIELD

OWNER = "feature-platform@featurekit.example"


def offline_source(settings: Settings, view: str, description: str) -> DataSource:
    """The offline source holding ``view``'s rows (``event_timestamp``, ``created``, join keys, features)."""
    return _offline_source(settings.offline_store, view, description)


@singledispatch
def _offline_source(store: object, view: str, description: str) -> DataSource:
    raise TypeError(f"no offline source for {type(store).__name__}")


@_offline_source.register
def _(store: ParquetOfflineStore, view: str, description: str) -> DataSource:
    return FileSource(
        name=f"{view}_offline",
        path=str(store.root / view / "*" / "*.parquet"),
        file_format=ParquetFormat(),
        timestamp_field=TIMESTAMP_FIELD,
        created_timestamp_column=CREATED_FIELD,
        description=description,
        owner=OWNER,
        tags={"feature_view": view},
    )


@_offline_source.register
def _(store: AthenaOfflineStore, view: str, description: str) -> DataSource:
    return AthenaSource(
        name=f"{view}_offline",
        table=view,
        database=store.database,
        data_source="AwsDataCatalog",
        timestamp_field=TIMESTAMP_FIELD,
        created_timestamp_column=CREATED_FIELD,
        description=description,
        owner=OWNER,
        tags={"feature_view": view},
    )


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
        owner=OWNER,
        tags={"topic": topic, **(rules or {})},
    )
