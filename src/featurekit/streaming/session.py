"""The SparkSession of a stream job, and the Kafka reader for the configured source format.

``streaming.source_format`` picks the reader: ``kafka`` (Spark's connector, its jar deployed with the job) or
``featurekit-kafka`` (the kit's Python data source, registered here). Both get the same options and give the same
columns, so nothing downstream knows which one ran.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from featurekit.config.settings import Settings
from featurekit.streaming.errors import StreamConfigError


def spark_session(settings: Settings, app_name: str) -> Any:
    """A session for ``settings.streaming.spark_master`` (UTC, small shuffles locally); reuses a running one."""
    from pyspark.sql import SparkSession

    master = settings.streaming.spark_master
    local = re.fullmatch(r"local\[(\d+|\*)\]", master)
    if local:
        pin_python_workers()
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if local:
        builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
        # Stateful operators fix their shuffle partition count in the checkpoint; on one machine the default 200
        # partitions would each cost a task per micro-batch.
        cores = local.group(1)
        builder = builder.config("spark.sql.shuffle.partitions", cores if cores != "*" else "4")
        builder = builder.config("spark.ui.enabled", "false")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if settings.streaming.source_format == "featurekit-kafka":
        from featurekit.streaming.kafka_source import KafkaDataSource

        spark.dataSource.register(KafkaDataSource)
    return spark


def pin_python_workers() -> None:
    """Make Spark's Python workers run this interpreter, so they import what this process imports.

    Spark starts its Python workers (UDFs, the kit's Kafka data source) with ``PYSPARK_PYTHON``, else whatever
    ``python3`` is first on PATH. Started by a service manager or cron as ``.venv/bin/featurekit ...``, PATH does not
    hold the virtual environment, and the workers fail with ``No module named 'featurekit'``. The JVM reads the
    variable from its environment, which it inherits when the session starts, so it is set here, before that.
    Only for local masters, whose workers run on this machine; a cluster's executors have their own interpreter,
    configured with the job. An explicit ``PYSPARK_PYTHON`` is kept.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def kafka_options(settings: Settings, topic: str) -> dict[str, str]:
    """The client options of the topic's reader (both source formats take them)."""
    return {
        "kafka.bootstrap.servers": settings.kafka.bootstrap_servers,
        "kafka.security.protocol": settings.kafka.security_protocol,
        "subscribe": topic,
    }


def kafka_records(
    spark: Any,
    settings: Settings,
    topic: str,
    *,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
    ending_offsets: dict[str, dict[str, int]] | None = None,
) -> Any:
    """A streaming DataFrame of Kafka records (key, value, topic, partition, offset, timestamp, timestampType).

    ``ending_offsets``: where the query stops reading (the kit's source only; see :mod:`.available_now`)."""
    limit = max_offsets_per_trigger or settings.streaming.max_offsets_per_trigger
    reader = (
        spark.readStream.format(settings.streaming.source_format)
        .options(**kafka_options(settings, topic))
        .option("startingOffsets", starting_offsets)
        .option("maxOffsetsPerTrigger", str(limit))
    )
    if ending_offsets is not None:
        reader = reader.option("endingOffsets", json.dumps(ending_offsets))
    try:
        return reader.load()
    except Exception as exc:
        if settings.streaming.source_format == "kafka" and "kafka" in str(exc).lower() and "find" in str(exc).lower():
            version = spark.version
            raise StreamConfigError(
                "streaming.source_format is 'kafka' but Spark's Kafka connector is not on the classpath: deploy "
                f"org.apache.spark:spark-sql-kafka-0-10_2.13:{version} with the job (spark-submit --packages or "
                "spark.jars), or use source_format 'featurekit-kafka' where the jar cannot be installed"
            ) from exc
        raise
