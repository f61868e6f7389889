"""``featurekit-kafka``: a Spark 4.0 Python streaming source over confluent-kafka, a stand-in for Spark's ``kafka``.

Production reads Kafka with Spark's official connector (``format("kafka")``). Where its jar cannot be deployed this
source gives the same options (``kafka.bootstrap.servers``, ``subscribe``, ``startingOffsets``,
``maxOffsetsPerTrigger``, any other ``kafka.*`` client setting) and the same columns (key, value, topic, partition,
offset, timestamp, timestampType), so the jobs switch with one setting (``streaming.source_format``).

Offsets live only in Spark's checkpoint (``{"topic": {"partition": next_offset}}``): the driver plans ranges
(:mod:`~featurekit.streaming.kafka_probe` asks the broker) and each task reads one (:mod:`~featurekit.streaming.
kafka_read`). No consumer group is joined and nothing is committed to Kafka, so a restarted query replays exactly
the ranges of its last uncommitted batch (exactly-once with an idempotent sink).

Written for the Python streaming API of Spark 4.0 (the Spark of EMR Serverless ``emr-spark-8.0.0``), which has no
admission control for Python sources: ``latestOffset()`` gets no start offset and no read limit. The reader
therefore tracks its own position, the end of the last range Spark planned (``partitions(start, end)``; on a
restart Spark calls ``partitions(last, last)`` with the checkpoint's last offsets before asking for new ones), and
applies ``maxOffsetsPerTrigger`` from there itself. An available-now run is an ``endingOffsets`` cap (see
:mod:`~featurekit.streaming.available_now`). A broker that cannot be reached makes the driver log a warning and
report "no new data" for that trigger, so the query waits instead of failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_fixed

from featurekit.streaming.kafka_options import FORMAT_NAME, KafkaSourceError, Offsets, SourceOptions, cap, limit
from featurekit.streaming.kafka_probe import BrokerUnavailable, OffsetProbe
from featurekit.streaming.kafka_read import ARROW_SCHEMA, KafkaRange, read_range

__all__ = ["ARROW_SCHEMA", "FORMAT_NAME", "KafkaDataSource", "KafkaSourceError", "KafkaStreamReader"]

SCHEMA_DDL = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
)

log = logging.getLogger("featurekit.streaming.kafka_source")


class KafkaDataSource(DataSource):
    """Spark data source ``featurekit-kafka`` (streaming read only)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> str:
        return SCHEMA_DDL

    def streamReader(self, schema: Any) -> DataSourceStreamReader:
        return KafkaStreamReader(SourceOptions.parse(dict(self.options)))


class KafkaStreamReader(DataSourceStreamReader):
    """Driver side: plans offset ranges, at most ``maxOffsetsPerTrigger`` past its position per micro-batch."""

    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self.probe = OffsetProbe(options)
        self._position: dict | None = None  # end of the last range Spark planned: the next batch starts here
        self._initial: dict | None = None
        self._unreachable_since: float | None = None

    def initialOffset(self) -> dict:
        """Computed once: Spark asks for the first batch's end before its start, and both must agree."""
        if self._initial is None:
            self._initial = self._until_reachable(self.probe.initial_offsets)
            log.info("%s: starting offsets %s", FORMAT_NAME, self._initial)
        return self._initial

    def latestOffset(self) -> dict:
        # No position yet: a query without a checkpoint (with one, Spark first calls partitions(last, last)).
        start = self._position if self._position is not None else self.initialOffset()
        try:
            ends = self.probe.latest(start)
        except BrokerUnavailable as exc:
            self._log_unreachable(exc)
            return start
        if self._unreachable_since is not None:
            log.warning(
                "%s: broker reachable again after %.1fs; catching up",
                FORMAT_NAME,
                time.monotonic() - self._unreachable_since,
            )
            self._unreachable_since = None
        return self._bounded(start, ends)

    def _bounded(self, start: dict, ends: Offsets) -> Offsets:
        if self.options.ending is not None:
            ends = cap(ends, start, self.options.ending)
        if self.options.max_offsets_per_trigger and start:
            ends = limit(start, ends, self.options.max_offsets_per_trigger)
        return ends

    def partitions(self, start: dict, end: dict) -> list[KafkaRange]:
        self._position = end
        ranges = []
        for topic, parts in end.items():
            for p, stop in parts.items():
                begin = start.get(topic, {}).get(p)
                if begin is None:
                    begin = self._until_reachable(lambda t=topic, n=int(p): self.probe.low(t, n))
                if stop > begin:
                    ranges.append(
                        KafkaRange(topic, int(p), begin, stop, self.options.client, self.options.fetch_timeout_s)
                    )
        return ranges

    def read(self, partition: KafkaRange) -> Iterator[pa.RecordBatch]:  # type: ignore[override]  # only ours planned
        return read_range(partition)

    def commit(self, end: dict) -> None:
        """Nothing to do: offsets are Spark's checkpoint, Kafka keeps no consumer state for this source."""

    def stop(self) -> None:
        self.probe.close()

    def _until_reachable(self, call: Any) -> Any:
        """``call()``, retried for as long as the broker is unreachable (a stream waits for its broker rather than
        failing), every few seconds, logging how long it has been unreachable."""

        def log_failure(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self._log_unreachable(error if isinstance(error, Exception) else BrokerUnavailable("unknown"))

        retrying = Retrying(
            retry=retry_if_exception_type(BrokerUnavailable),
            wait=wait_fixed(min(5.0, self.options.probe_timeout_s)),
            before_sleep=log_failure,
            reraise=True,
        )
        return retrying(call)

    def _log_unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        log.warning(
            "%s: Kafka at %s unreachable for %.1fs (%s); no new offsets this trigger, retrying",
            FORMAT_NAME,
            self.options.client.get("bootstrap.servers"),
            now - self._unreachable_since,
            exc,
        )
