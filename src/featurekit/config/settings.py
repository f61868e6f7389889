"""The typed settings model shared by every environment file.

Backends are discriminated unions on ``type``: an environment chooses DuckDB or Athena by configuration, and the code
asks the chosen model to do the work: no code compares environment names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from featurekit.online_store.config import TieredRedisOnlineStoreConfig


class _Strict(BaseModel):
    """Unknown keys fail loudly: a typo in an environment file is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistrySettings(_Strict):
    """Where the Feast registry lives: a local file, or ``s3://bucket/key`` (one bucket per environment)."""

    path: str
    cache_ttl_seconds: int = 60
    # A protected registry (prod) is applied only from `main` in CI, or with an explicit `--force`.
    protected: bool = False


class DuckDBWarehouse(_Strict):
    """The embedded warehouse: one DuckDB file holding ``users``, ``transactions`` and ``balance_checks``."""

    type: Literal["duckdb"] = "duckdb"
    path: Path


class _Athena(_Strict):
    """Where Athena queries run: a Glue database, a workgroup and its result location."""

    database: str
    workgroup: str
    results_location: str
    region: str


class AthenaWarehouse(_Athena):
    """The warehouse as Glue tables queried through Athena."""

    type: Literal["athena"] = "athena"


Warehouse = Annotated[DuckDBWarehouse | AthenaWarehouse, Field(discriminator="type")]


class ParquetOfflineStore(_Strict):
    """Offline store as partitioned parquet on the local disk, read by DuckDB (Feast's ``duckdb`` store)."""

    type: Literal["parquet"] = "parquet"
    root: Path


class AthenaOfflineStore(_Athena):
    """Offline store as partitioned parquet on S3, registered in Glue and read by Athena."""

    type: Literal["athena"] = "athena"
    s3_root: str


OfflineStore = Annotated[ParquetOfflineStore | AthenaOfflineStore, Field(discriminator="type")]


class KafkaSettings(_Strict):
    """The Kafka cluster of the streaming feature views. Topic names are declared by the feature repo's
    ``KafkaSource`` objects; ``<topic><dlq_suffix>`` is each topic's dead-letter topic."""

    bootstrap_servers: str
    dlq_suffix: str = ".dlq"
    security_protocol: str = "PLAINTEXT"


class StreamingSettings(_Strict):
    """Spark Structured Streaming: where checkpoints go and which Kafka source implementation reads the topics.

    ``source_format`` is ``kafka`` (Spark's official connector, production) or ``featurekit-kafka`` (the kit's
    Python data source over confluent-kafka, for machines without the connector jar).
    """

    checkpoint_location: str
    source_format: Literal["kafka", "featurekit-kafka"] = "kafka"
    trigger_seconds: float = 1.0
    max_offsets_per_trigger: int = 200_000
    spark_master: str = "local[2]"


class Settings(_Strict):
    """Everything the kit needs to know about one environment."""

    env: str
    project: str
    provider: Literal["local", "aws"] = "local"
    feature_repo: Path
    data_dir: Path
    registry: RegistrySettings
    warehouse: Warehouse
    offline_store: OfflineStore
    online_store: TieredRedisOnlineStoreConfig
    kafka: KafkaSettings
    streaming: StreamingSettings
    entity_key_serialization_version: int = 3
