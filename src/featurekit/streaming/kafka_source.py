"""``featurekit-kafka``: a Spark 4 Python streaming data source over confluent-kafka, a stand-in for Spark's ``kafka``.

Production reads Kafka with Spark's official connector (``format("kafka")``). Where its jar cannot be deployed this
source gives the same options (``kafka.bootstrap.servers``, ``subscribe``, ``startingOffsets``,
``maxOffsetsPerTrigger``, any other ``kafka.*`` client setting) and the same columns (key, value, topic, partition,
offset, timestamp, timestampType), so the jobs switch with one setting (``streaming.source_format``).

Offsets live only in Spark's checkpoint (``{"topic": {"partition": next_offset}}``): the driver plans ranges and each
task assigns its partition and seeks to the range start. No consumer group is joined and nothing is committed to
Kafka, so a restarted query replays exactly the ranges of its last uncommitted batch (exactly-once with an
idempotent sink).

The end of a partition is taken from a fetch response at the last known end (or the broker's ListOffsets high
watermark, whichever is further), or from partition EOF: some Kafka-compatible brokers report a lagging high
watermark through the ListOffsets API, while the fetch path is always exact. A broker that cannot be reached
makes the driver log a warning and report "no new data" for that trigger, so the query waits instead of failing;
a task that loses the broker mid-read keeps retrying until ``featurekit.fetchTimeoutSeconds`` and then fails with
a clear message (the application supervisor restarts the query from its checkpoint).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_fixed

FORMAT_NAME = "featurekit-kafka"
SCHEMA_DDL = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
)
ARROW_SCHEMA = pa.schema(
    [
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("timestampType", pa.int32()),
    ]
)
EARLIEST, LATEST = -2, -1
_READ_CHUNK = 10_000
_PARTITION_EOF = -191  # confluent_kafka.KafkaError._PARTITION_EOF
_AUTO_OFFSET_RESET = -140  # confluent_kafka.KafkaError._AUTO_OFFSET_RESET (auto.offset.reset=error)

log = logging.getLogger("featurekit.streaming.kafka_source")


class KafkaSourceError(RuntimeError):
    """The source was configured wrongly or could not read a planned offset range; the message says which."""


@dataclass(frozen=True)
class SourceOptions:
    """The data source options, validated once on the driver."""

    client: dict[str, str]
    topics: tuple[str, ...]
    starting: str
    max_offsets_per_trigger: int | None
    probe_timeout_s: float
    fetch_timeout_s: float

    @classmethod
    def parse(cls, options: dict[str, str]) -> SourceOptions:
        opts = {k.lower(): v for k, v in options.items()}
        client = {k[len("kafka.") :]: v for k, v in options.items() if k.lower().startswith("kafka.")}
        if "bootstrap.servers" not in client:
            raise KafkaSourceError(f"{FORMAT_NAME}: option 'kafka.bootstrap.servers' is required")
        if "assign" in opts or "subscribepattern" in opts:
            raise KafkaSourceError(f"{FORMAT_NAME}: only the 'subscribe' option is supported (got assign/pattern)")
        topics = tuple(t.strip() for t in opts.get("subscribe", "").split(",") if t.strip())
        if not topics:
            raise KafkaSourceError(f"{FORMAT_NAME}: option 'subscribe' (comma-separated topics) is required")
        limit = opts.get("maxoffsetspertrigger")
        try:
            max_offsets = int(limit) if limit not in (None, "") else None
        except ValueError:
            raise KafkaSourceError(f"{FORMAT_NAME}: maxOffsetsPerTrigger={limit!r} is not an integer") from None
        if max_offsets is not None and max_offsets <= 0:
            raise KafkaSourceError(f"{FORMAT_NAME}: maxOffsetsPerTrigger must be positive, got {max_offsets}")
        starting = opts.get("startingoffsets", "latest").strip()
        if starting not in ("earliest", "latest"):
            _parse_json_offsets(starting)  # fail on the driver, at start, if malformed
        return cls(
            client=client,
            topics=topics,
            starting=starting,
            max_offsets_per_trigger=max_offsets,
            probe_timeout_s=float(opts.get("featurekit.probetimeoutseconds", "5")),
            fetch_timeout_s=float(opts.get("featurekit.fetchtimeoutseconds", "300")),
        )

    def consumer_config(self, **extra: Any) -> dict[str, Any]:
        # group.id is required by librdkafka even with assign(); nothing joins or commits with it.
        return {
            "group.id": "featurekit-kafka-source",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "log_level": 3,
            **self.client,
            **extra,
        }


def _parse_json_offsets(text: str) -> dict[str, dict[str, int]]:
    try:
        raw = json.loads(text)
        return {str(t): {str(p): int(o) for p, o in parts.items()} for t, parts in raw.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise KafkaSourceError(
            f"{FORMAT_NAME}: startingOffsets must be 'earliest', 'latest' or JSON like "
            f'{{"topic": {{"0": 42, "1": -2}}}}; got {text!r}: {exc}'
        ) from exc


class KafkaDataSource(DataSource):
    """Spark data source ``featurekit-kafka`` (streaming read only)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> str:
        return SCHEMA_DDL

    def streamReader(self, schema: Any) -> DataSourceStreamReader:
        return KafkaStreamReader(SourceOptions.parse(dict(self.options)))


@dataclass
class KafkaRange(InputPartition):
    """One task: offsets ``[start, end)`` of one topic partition."""

    topic: str
    partition: int
    start: int
    end: int
    client: dict[str, str]
    fetch_timeout_s: float


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Driver side: plans offset ranges; tasks read them with :func:`read_range`."""

    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self._probe: Any = None
        self._known_end: dict[tuple[str, int], int] = {}
        self._available_now_target: dict[str, dict[str, int]] | None = None
        self._unreachable_since: float | None = None

    # ---- offsets -------------------------------------------------------------------------------------------

    def _until_reachable(self, wait_s: float) -> Retrying:
        """Retry a broker request for as long as the broker is unreachable (a stream waits for its broker rather
        than failing), every ``wait_s`` seconds, logging how long it has been unreachable."""

        def log_failure(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            self._log_unreachable(error if isinstance(error, Exception) else _BrokerUnavailable("unknown"))

        return Retrying(
            retry=retry_if_exception_type(_BrokerUnavailable),
            wait=wait_fixed(wait_s),
            before_sleep=log_failure,
            reraise=True,
        )

    def initialOffset(self) -> dict:
        return self._until_reachable(min(5.0, self.options.probe_timeout_s))(self._initial_offset)

    def _initial_offset(self) -> dict[str, dict[str, int]]:
        explicit = _parse_json_offsets(self.options.starting) if self.options.starting[0] == "{" else {}
        result: dict[str, dict[str, int]] = {}
        for topic, partitions in self._partitions().items():
            result[topic] = {}
            for p in partitions:
                wanted = explicit.get(topic, {}).get(str(p))
                if wanted is None:
                    wanted = EARLIEST if self.options.starting == "earliest" or explicit else LATEST
                if wanted == EARLIEST:
                    result[topic][str(p)] = self._low(topic, p)
                elif wanted == LATEST:
                    result[topic][str(p)] = self._end_offsets({(topic, p): 0})[(topic, p)]
                else:
                    result[topic][str(p)] = wanted
        log.info("%s: starting offsets %s", FORMAT_NAME, result)
        return result

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        try:
            ends = self._latest(start)
        except _BrokerUnavailable as exc:
            self._log_unreachable(exc)
            return start
        if self._unreachable_since is not None:
            log.warning(
                "%s: broker reachable again after %.1fs; catching up",
                FORMAT_NAME,
                time.monotonic() - self._unreachable_since,
            )
            self._unreachable_since = None
        if self._available_now_target is not None:
            ends = _cap(ends, self._available_now_target)
        if isinstance(limit, ReadMaxRows):
            ends = _limit(start, ends, limit.max_rows)
        return ends

    def getDefaultReadLimit(self) -> ReadLimit:
        if self.options.max_offsets_per_trigger:
            return ReadMaxRows(self.options.max_offsets_per_trigger)
        return ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        partitions = self._until_reachable(1.0)(self._partitions)
        keys = {(t, p): 0 for t, parts in partitions.items() for p in parts}
        ends = self._end_offsets(keys)
        self._available_now_target = _nested(ends)
        log.info("%s: available-now target %s", FORMAT_NAME, self._available_now_target)

    def _latest(self, start: dict) -> dict[str, dict[str, int]]:
        known = {(t, int(p)): o for t, parts in start.items() for p, o in parts.items()}
        positions: dict[tuple[str, int], int] = {}
        for topic, partitions in self._partitions().items():
            for p in partitions:
                key = (topic, p)
                # A partition added after the query started is read from its beginning.
                positions[key] = max(known.get(key, self._low(topic, p)), self._known_end.get(key, 0))
        ends = self._end_offsets(positions)
        return _nested({k: max(v, known.get(k, 0)) for k, v in ends.items()})

    def partitions(self, start: dict, end: dict) -> list[KafkaRange]:
        ranges = []
        for topic, parts in end.items():
            for p, stop in parts.items():
                begin = start.get(topic, {}).get(p)
                if begin is None:
                    begin = self._low(topic, int(p))
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
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    # ---- broker calls --------------------------------------------------------------------------------------

    def _consumer(self) -> Any:
        if self._probe is None:
            from confluent_kafka import Consumer

            # Small fetches: the probe only needs the fetch response's high watermark, not the data.
            config = self.options.consumer_config(**{"max.partition.fetch.bytes": 4096})
            try:
                self._probe = Consumer(config)
            except Exception as exc:
                raise KafkaSourceError(f"{FORMAT_NAME}: invalid Kafka client settings: {exc}") from exc
        return self._probe

    def _partitions(self) -> dict[str, list[int]]:
        from confluent_kafka import KafkaException

        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(timeout=self.options.probe_timeout_s)
        except KafkaException as exc:
            raise _BrokerUnavailable(f"metadata request failed: {exc}") from exc
        result: dict[str, list[Any]] = {}
        for topic in self.options.topics:
            info = metadata.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                log.warning("%s: topic %r does not exist yet; waiting for it", FORMAT_NAME, topic)
                result[topic] = []
            else:
                result[topic] = sorted(info.partitions)
        return result

    def _low(self, topic: str, partition: int) -> int:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            low, _ = self._consumer().get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.options.probe_timeout_s, cached=False
            )
        except KafkaException as exc:
            raise _BrokerUnavailable(f"offset request for {topic}[{partition}] failed: {exc}") from exc
        return max(int(low), 0)

    def _end_offsets(self, positions: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """The exact end offset of each partition, read to partition EOF from ``positions``."""
        from confluent_kafka import KafkaException, TopicPartition

        if not positions:
            return {}
        consumer = self._consumer()
        start: dict[tuple[str, int], int] = {}
        for (topic, p), pos in positions.items():
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=self.options.probe_timeout_s, cached=False
                )
            except KafkaException as exc:
                raise _BrokerUnavailable(f"offset request for {topic}[{p}] failed: {exc}") from exc
            start[(topic, p)] = max(pos, int(high))
        ends = dict(start)
        pending = set(start)
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in start.items()])
        deadline = time.monotonic() + self.options.probe_timeout_s
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=_READ_CHUNK, timeout=0.02):
                key = (msg.topic(), msg.partition())
                if key not in pending:
                    continue
                err = msg.error()
                if err is None:
                    ends[key] = max(ends.get(key, 0), msg.offset() + 1)
                    # The fetch response carries the exact high watermark: one fetch is enough, no need to read on.
                    _, fetched_high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
                    if fetched_high >= ends[key]:
                        ends[key] = fetched_high
                        pending.discard(key)
                elif err.code() == _PARTITION_EOF:
                    ends[key] = max(ends.get(key, 0), msg.offset())
                    pending.discard(key)
                else:
                    log.warning("%s: probing %s[%s]: %s", FORMAT_NAME, key[0], key[1], err)
        consumer.unassign()
        if pending and all(ends[k] == start[k] for k in pending):
            raise _BrokerUnavailable(f"no fetch answer within {self.options.probe_timeout_s}s for {sorted(pending)}")
        self._known_end.update(ends)
        return ends

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


class _BrokerUnavailable(Exception):
    pass


def _nested(flat: dict[tuple[str, int], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (topic, p), offset in sorted(flat.items()):
        out.setdefault(topic, {})[str(p)] = offset
    return out


def _cap(ends: dict[str, dict[str, int]], target: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {t: {p: min(o, target.get(t, {}).get(p, o)) for p, o in parts.items()} for t, parts in ends.items()}


def _limit(start: dict, ends: dict[str, dict[str, int]], max_rows: int) -> dict[str, dict[str, int]]:
    """Spread ``max_rows`` over partitions in proportion to their lag, as Spark's Kafka source does."""
    lags = {(t, p): o - start.get(t, {}).get(p, o) for t, parts in ends.items() for p, o in parts.items()}
    total = sum(max(v, 0) for v in lags.values())
    if total <= max_rows:
        return ends
    out: dict[str, dict[str, int]] = {}
    for (topic, p), lag in lags.items():
        begin = start.get(topic, {}).get(p, ends[topic][p])
        share = int(max_rows * max(lag, 0) / total) if lag > 0 else 0
        out.setdefault(topic, {})[p] = begin + max(share, 1 if lag > 0 else 0)
    return out


def read_range(part: KafkaRange) -> Iterator[pa.RecordBatch]:
    """Read offsets ``[start, end)`` of one partition as Arrow record batches (runs in a Spark task)."""
    from confluent_kafka import Consumer, TopicPartition

    options = SourceOptions(
        client=part.client,
        topics=(part.topic,),
        starting="earliest",
        max_offsets_per_trigger=None,
        probe_timeout_s=5.0,
        fetch_timeout_s=part.fetch_timeout_s,
    )
    # auto.offset.reset=error: a planned offset that no longer exists must fail, never silently jump elsewhere.
    consumer = Consumer(options.consumer_config(**{"fetch.wait.max.ms": 100, "auto.offset.reset": "error"}))
    try:
        consumer.assign([TopicPartition(part.topic, part.partition, part.start)])
        next_offset = part.start
        deadline = time.monotonic() + part.fetch_timeout_s
        waiting_logged = False
        while next_offset < part.end:
            messages = consumer.consume(num_messages=min(_READ_CHUNK, part.end - next_offset), timeout=1.0)
            keys, values, offsets, stamps, stamp_types = [], [], [], [], []
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == _AUTO_OFFSET_RESET:
                        raise KafkaSourceError(
                            f"{FORMAT_NAME}: {part.topic}[{part.partition}] offset {next_offset} is no longer "
                            f"available (deleted by retention?); the planned range {part.start}..{part.end} "
                            "cannot be replayed exactly"
                        )
                    if err.code() != _PARTITION_EOF:
                        log.warning("%s: reading %s[%s]: %s", FORMAT_NAME, part.topic, part.partition, err)
                    continue
                offset = cast(int, msg.offset())  # consumed messages always have one
                if offset < next_offset or offset >= part.end:
                    continue
                ts_type, ts = msg.timestamp()
                keys.append(msg.key())
                values.append(msg.value())
                offsets.append(offset)
                stamps.append(ts * 1000 if ts_type else None)
                stamp_types.append(max(ts_type - 1, 0))  # librdkafka: 1=create, 2=append; Spark: 0, 1
                next_offset = offset + 1
            if offsets:
                deadline = time.monotonic() + part.fetch_timeout_s
                n = len(offsets)
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(keys, pa.binary()),
                        pa.array(values, pa.binary()),
                        pa.array([part.topic] * n, pa.string()),
                        pa.array([part.partition] * n, pa.int32()),
                        pa.array(offsets, pa.int64()),
                        pa.array(stamps, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                        pa.array(stamp_types, pa.int32()),
                    ],
                    schema=ARROW_SCHEMA,
                )
            elif time.monotonic() > deadline:
                raise KafkaSourceError(
                    f"{FORMAT_NAME}: could not read {part.topic}[{part.partition}] offsets {next_offset}..{part.end} "
                    f"within {part.fetch_timeout_s:.0f}s (broker unreachable or data deleted by retention)"
                )
            elif not waiting_logged and messages == []:
                waiting_logged = True
                log.info("%s: waiting for %s[%s] at %s", FORMAT_NAME, part.topic, part.partition, next_offset)
    finally:
        consumer.close()
