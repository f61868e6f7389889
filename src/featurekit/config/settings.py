"""The typed settings model shared by every environment file.

Backends are chosen by ``type``: an environment chooses DuckDB or Athena by configuration, and the code asks the
chosen model to do the work: no code compares environment names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from featurekit.config.backends import OfflineStoreField, OnlineStoreField
from featurekit.config.model import AthenaConnection
from featurekit.config.model import StrictModel as _Strict


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


class AthenaWarehouse(AthenaConnection):
    """The warehouse as Glue tables queried through Athena."""

    type: Literal["athena"] = "athena"


Warehouse = Annotated[DuckDBWarehouse | AthenaWarehouse, Field(discriminator="type")]


# Offline backends keep their config beside their implementation (featurekit.offline.parquet, .athena); the
# field loads the class the environment names by ``type`` (featurekit.config.backends).
OfflineStore = OfflineStoreField


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


class ServingSettings(_Strict):
    """The feature server's limits, timeouts and tokens (``featurekit serve``); see docs/online-store.md.

    Every limit bounds what one client can make one worker do or hold: the server answers 413/431/503 naming the
    limit instead of queueing unbounded work. Tokens come from the environment through ``${VAR}`` references;
    empty means no authentication (reads) or "writes use the read token" (``write_token``).
    """

    auth_token: SecretStr | None = None
    write_token: SecretStr | None = None
    max_header_bytes: int = Field(default=65_536, gt=0)
    max_body_bytes: int = Field(default=4_194_304, gt=0)
    max_entities: int = Field(default=10_000, gt=0)
    inline_max_entities: int = Field(default=64, ge=0)  # reads up to this many rows run on the event loop
    max_write_rows: int = Field(default=10_000, gt=0)
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=10.0, gt=0)
    keep_alive_timeout_s: float = Field(default=5.0, gt=0)
    request_timeout_s: float = Field(default=2.0, gt=0)
    worker_threads: int = Field(default=4, gt=0)
    max_queued_requests: int = Field(default=64, gt=0)
    max_pipelined_requests: int = Field(default=16, gt=0)
    write_buffer_bytes: int = Field(default=262_144, gt=0, le=1 << 30)
    redis_probe_interval_s: float = Field(default=1.0, gt=0)

    @field_validator("auth_token", "write_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class DeploySettings(_Strict):
    """Where ``featurekit deploy`` ships the code of an AWS environment (rendered from Terraform outputs).

    ``artifacts_location`` (``s3://bucket/prefix``) receives the streaming jobs' packed environment and entry points;
    the MWAA bucket receives the DAG bundle, ``plugins.zip`` (the featurekit wheel) and ``requirements.txt``.
    """

    region: str
    mwaa_environment: str
    mwaa_bucket: str
    artifacts_location: str
    emr_application_id: str
    emr_job_role_arn: str
    ecs_cluster: str
    ecs_service: str
    feature_server_image: str  # repository URI without tag; the tag is the commit being deployed


class PreviewSettings(_Strict):
    """Bounds of ``featurekit plan --preview``: how much warehouse data one view's preview may read."""

    intervals: int = Field(default=1, ge=1, le=31)  # the most recent whole intervals of the view's grain
    max_rows: int = Field(default=100_000, ge=1)  # LIMIT on the view's query (rows profiled and validated)


class QualitySettings(_Strict):
    """The data-quality gate on every write path (see docs/batch.md and docs/streaming.md).

    ``training_requires_validation``: training reads (``get_historical_features``) skip batch partitions without a
    passing validation record. ``stream_max_failure_rate``: a micro-batch whose share of rows failing the view's
    expectations exceeds this stops the stream query (only once it has ``stream_min_rows`` rows, so one bad
    event in a tiny batch is dead-lettered, not fatal).
    """

    training_requires_validation: bool = True
    stream_max_failure_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    stream_min_rows: int = Field(default=20, ge=1)
    preview: PreviewSettings = PreviewSettings()


class OrchestrationSettings(_Strict):
    """Scheduling policy of the generated Airflow DAGs (``featurekit_hourly``, ``featurekit_daily``,
    ``featurekit_maintenance``); see docs/batch.md.

    ``start_date`` is where catchup begins (a date means midnight UTC). Retries back off exponentially from
    ``retry_delay_seconds`` for transient faults. ``maintenance_max_keys`` bounds the online rows one maintenance run
    deletes (the rest go next run). ``manifest_cache_dir`` holds the cached DAG manifest; empty means the user's cache
    directory (``$XDG_CACHE_HOME/featurekit``, else ``~/.cache/featurekit``).
    """

    start_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    catchup: bool = True
    retries: int = Field(default=3, ge=0)
    retry_delay_seconds: float = Field(default=60.0, gt=0)
    maintenance_max_keys: int = Field(default=100_000, ge=1)
    manifest_cache_dir: Path | None = None

    @field_validator("start_date", mode="before")
    @classmethod
    def _utc_start(cls, value: object) -> object:
        # YAML reads `2026-01-01` as a date; a naive date or time is UTC (data intervals are UTC everywhere).
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @field_validator("manifest_cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class MetricsSettings(_Strict):
    """Where batch jobs hand over their ``featurekit_*`` metrics when they end (see docs/operations.md).

    ``pushgateway_url`` set: pushed to that Prometheus Pushgateway. Otherwise written for node_exporter's textfile
    collector into ``textfile_dir``, empty meaning ``<data_dir>/metrics``.
    """

    pushgateway_url: str | None = None
    textfile_dir: Path | None = None

    @field_validator("pushgateway_url", "textfile_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class Settings(_Strict):
    """Everything the kit needs to know about one environment."""

    # The offline store is any object implementing the backend protocol (checked with isinstance).
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    env: str
    project: str
    provider: Literal["local", "aws"] = "local"
    feature_repo: Path
    data_dir: Path
    registry: RegistrySettings
    warehouse: Warehouse
    offline_store: OfflineStore
    online_store: OnlineStoreField  # featurekit.online_store.config.TieredRedisOnlineStoreConfig, loaded by path
    kafka: KafkaSettings
    streaming: StreamingSettings
    serving: ServingSettings = ServingSettings()
    deploy: DeploySettings | None = None  # AWS environments only
    quality: QualitySettings = QualitySettings()
    orchestration: OrchestrationSettings = OrchestrationSettings()
    metrics: MetricsSettings = MetricsSettings()
    entity_key_serialization_version: int = 3

    def metrics_textfile_dir(self) -> Path:
        """The textfile collector directory: ``metrics.textfile_dir``, else ``<data_dir>/metrics``."""
        return self.metrics.textfile_dir or self.data_dir / "metrics"
