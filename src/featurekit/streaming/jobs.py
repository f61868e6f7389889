"""Streaming jobs generated from the feature repo: one per stream feature view, each a set of Spark queries.

A ``latest`` view is one stateless query (its sink also routes the topic's dead letters); a ``window`` view is a
stateful query plus ``<view>_dead_letters`` (the topic's invalid records; a separate query because a stateful
query's sink only sees aggregates). Which view, topic, schema, rules and transform: :mod:`featurekit.repo.streams`.

Every query has its own checkpoint, ``<streaming.checkpoint_location>/<query>``. :class:`StreamApplication`
supervises the queries: it turns each micro-batch's progress into metrics and a log line, and restarts a failed
query from its checkpoint with capped exponential back-off, so a broker or Redis outage becomes a wait (logged) and
a catch-up, not a dead job.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from featurekit.config.settings import Settings
from featurekit.metrics import (
    STREAM_BATCH_SECONDS,
    STREAM_INPUT_ROWS_TOTAL,
    STREAM_LATE_EVENTS_TOTAL,
    STREAM_QUERY_RESTARTS_TOTAL,
)
from featurekit.repo.streams import StreamSpec
from featurekit.streaming import available_now
from featurekit.streaming.errors import StreamConfigError, StreamingError
from featurekit.streaming.events import EventSchema
from featurekit.streaming.sink import BatchOutcome, FeatureSink, checkpoint_uri

log = logging.getLogger("featurekit.streaming.jobs")
MAX_BACKOFF_S = 60.0
DEAD_LETTER_QUERY_SUFFIX = "_dead_letters"


@dataclass(frozen=True)
class QuerySpec:
    """One streaming query of a job: ``latest`` (events -> DLQ + newest rows per batch), ``rows`` (windowed
    aggregates from a stateful query) or ``dead_letters`` (the topic's invalid records, for a windowed view)."""

    name: str
    spec: StreamSpec
    mode: Literal["latest", "rows", "dead_letters"]

    @property
    def view(self) -> str | None:
        return None if self.mode == "dead_letters" else self.spec.view


@dataclass(frozen=True)
class StreamJob:
    """The job generated for one stream view. ``publishes_dead_letters``: of the views reading one topic, the
    first by name publishes the topic's dead letters, so each invalid record reaches the DLQ once."""

    spec: StreamSpec
    publishes_dead_letters: bool = True

    @property
    def name(self) -> str:
        return self.spec.view

    @property
    def topic(self) -> str:
        return self.spec.topic

    def queries(self) -> tuple[QuerySpec, ...]:
        if self.spec.kind == "latest":
            return (QuerySpec(self.name, self.spec, "latest"),)
        rows = QuerySpec(self.name, self.spec, "rows")
        # A stateful query's sink sees aggregates only: the topic's invalid records need their own query.
        dlq = (QuerySpec(f"{self.name}{DEAD_LETTER_QUERY_SUFFIX}", self.spec, "dead_letters"),)
        return (rows, *dlq) if self.publishes_dead_letters else (rows,)

    def sinks(self, settings: Settings) -> list[str]:
        out = ["online", "offline"]
        return out + ([f"dlq {self.topic}{settings.kafka.dlq_suffix}"] if self.publishes_dead_letters else [])


def stream_jobs(settings: Settings, repo: Any = None) -> dict[str, StreamJob]:
    """One job per stream view of the feature repo (loaded from ``settings.feature_repo`` unless given)."""
    from featurekit.repo.loader import load_repo
    from featurekit.repo.streams import stream_specs

    repo = repo if repo is not None else load_repo(settings)
    specs, problems = stream_specs(repo)
    if problems:
        lines = "; ".join(f"{repo.origin(p.view)}: {p.view.name}: [{p.rule}] {p.message}" for p in problems)
        raise StreamConfigError(f"the feature repo's stream views are not valid (run `featurekit check`): {lines}")
    owners: dict[str, str] = {}
    for spec in specs:
        owners.setdefault(spec.topic, spec.view)
    return {s.view: StreamJob(s, publishes_dead_letters=owners[s.topic] == s.view) for s in specs}


def stream_job(settings: Settings, name: str) -> StreamJob:
    jobs = stream_jobs(settings)
    try:
        return jobs[name]
    except KeyError:
        raise StreamConfigError(f"unknown stream job {name!r}; the feature repo declares: {sorted(jobs)}") from None


def stream_topics(settings: Settings, jobs: dict[str, StreamJob] | None = None) -> list[str]:
    """The source topics of every stream view and their dead-letter topics."""
    jobs = stream_jobs(settings) if jobs is None else jobs
    sources = sorted({job.topic for job in jobs.values()})
    return sources + [f"{t}{settings.kafka.dlq_suffix}" for t in sources]


@dataclass
class QueryStats:
    """Running totals of one query, from its progress reports and its sink."""

    batches: int = 0
    input_rows: int = 0
    late_events: int = 0
    restarts: int = 0
    online_rows: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    last_batch_id: int = -1
    watermark: datetime | None = None  # in effect for late events from the next micro-batch on


class StreamApplication:
    """The queries of one job on one SparkSession; :meth:`run` supervises them until stopped."""

    def __init__(
        self,
        settings: Settings,
        job: StreamJob | str,
        *,
        spark: Any = None,
        starting_offsets: str = "earliest",
        available_now: bool = False,
        max_offsets_per_trigger: int | None = None,
        trigger_seconds: float | None = None,
        on_batch: Callable[[BatchOutcome], None] | None = None,
        max_restarts: int | None = None,
    ) -> None:
        """``max_restarts``: consecutive failures of one query after which :meth:`poll` raises (None: never give
        up, the right choice for a long-running job; a bounded number for catch-up runs)."""
        self.job = stream_job(settings, job) if isinstance(job, str) else job
        self.settings, self.name = settings, self.job.name
        self.max_restarts = max_restarts
        self.specs = self.job.queries()
        self.schema = EventSchema.from_spec(self.job.spec)
        self.spark = spark
        self.starting_offsets = starting_offsets
        self.available_now = available_now
        self.max_offsets_per_trigger = max_offsets_per_trigger
        self.trigger_seconds = trigger_seconds if trigger_seconds is not None else settings.streaming.trigger_seconds
        self.on_batch = on_batch
        self.queries: dict[str, Any] = {}
        self.stats: dict[str, QueryStats] = defaultdict(QueryStats)
        self._progress_seen: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = defaultdict(int)
        self._store: Any = None
        self._ending: dict[str, dict[str, int]] | None = None  # available-now target of the kit's Kafka source
        self._lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> StreamApplication:
        from featurekit.repo.feast_config import feature_store
        from featurekit.streaming.session import spark_session

        if self.spark is None:
            self.spark = spark_session(self.settings, f"featurekit-stream-{self.name}")
        self._store = feature_store(self.settings)
        if self.available_now and available_now.emulated(self.settings):
            self._ending = available_now.ending_offsets(self.settings, self.job.topic)
        for spec in self.specs:
            self._start(spec)
        return self

    def _start(self, spec: QuerySpec) -> None:
        from featurekit.streaming.session import kafka_records
        from featurekit.streaming.transforms import dead_letters, latest_rows, parse_events, valid_events, window_rows

        view = self._registered_view(spec.view) if spec.view else None
        records = kafka_records(
            self.spark,
            self.settings,
            self.job.topic,
            starting_offsets=self.starting_offsets,
            max_offsets_per_trigger=self.max_offsets_per_trigger,
            ending_offsets=self._ending,
        )
        events = parse_events(records, self.schema)
        sink = FeatureSink(
            self.settings,
            spec.name,
            spec.mode,
            view=view,
            repo_config=self._store.config,
            batch_transform=functools.partial(latest_rows, self.job.spec) if spec.mode == "latest" else None,
            publish_dead_letters=self.job.publishes_dead_letters,
            on_batch=self._record_outcome,
        )
        if spec.mode == "rows":
            frame, output_mode = window_rows(self.job.spec, valid_events(events)), "update"
        elif spec.mode == "dead_letters":
            frame, output_mode = dead_letters(events), "append"
        else:
            frame, output_mode = events, "append"
        writer = (
            frame.writeStream.queryName(spec.name)
            .outputMode(output_mode)
            .foreachBatch(sink)
            .option("checkpointLocation", checkpoint_uri(self.settings, spec.name))
        )
        if self.available_now and self._ending is None:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=f"{int(self.trigger_seconds * 1000)} milliseconds")
        self.queries[spec.name] = writer.start()
        log.info(
            "%s: query %s started (topic %s, checkpoint %s, source %s)",
            self.name,
            spec.name,
            self.job.topic,
            checkpoint_uri(self.settings, spec.name),
            self.settings.streaming.source_format,
        )

    def _registered_view(self, name: str) -> Any:
        """The view as applied (what the online store serves); a clear error when it was never applied."""
        try:
            return self._store.get_stream_feature_view(name)
        except Exception as exc:
            raise StreamConfigError(
                f"stream view {name!r} is in the feature repo but not in the registry {self.settings.registry.path}: "
                f"run `featurekit apply` first ({type(exc).__name__})"
            ) from exc

    def stop(self, *, finish_batch_s: float = 30.0) -> None:
        """Stop every query, letting a micro-batch in progress finish first (up to ``finish_batch_s``)."""
        for name, query in self.queries.items():
            deadline = time.monotonic() + finish_batch_s
            try:
                while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
                    time.sleep(0.1)
                query.stop()
            except Exception as exc:
                log.warning("%s: stopping query %s: %s", self.name, name, exc)
            self._record_progress(name, query)  # the final batches' progress (no restarts while stopping)

    def run(self, *, stop: threading.Event | None = None, timeout_s: float | None = None) -> None:
        """Start (if needed) and supervise until ``stop`` is set, ``timeout_s`` passes, or, with
        ``available_now``, every query has drained its backlog."""
        if not self.queries:
            self.start()
        deadline = time.monotonic() + timeout_s if timeout_s else None
        try:
            while self.poll():
                if stop is not None and stop.is_set():
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            self.stop()

    # ---- supervision ---------------------------------------------------------------------------------------

    def poll(self) -> bool:
        """Record new progress, restart failed queries when their back-off is over; False once all are done."""
        running = False
        for spec in self.specs:
            query = self.queries.get(spec.name)
            if query is None:
                continue
            self._record_progress(spec.name, query)
            if query.isActive and self._ending is not None and available_now.reached(query.lastProgress, self._ending):
                query.stop()  # an emulated available-now run that has read its target offsets: finished
            if query.isActive:
                running = True
                continue
            error = query.exception()
            if error is None:
                continue  # finished (available-now) or stopped
            if "StreamQualityError" in (getattr(error, "desc", None) or str(error)):  # a restart re-reads the batch
                raise StreamingError(f"stream {self.name}: query {spec.name} stopped: {_first_line(error)}")
            running = True
            now = time.monotonic()
            retry_at = self._retry_at.get(spec.name)
            if retry_at is None:
                self._failures[spec.name] += 1
                if self.max_restarts is not None and self._failures[spec.name] > self.max_restarts:
                    raise StreamingError(
                        f"stream {self.name}: query {spec.name} failed {self._failures[spec.name]} times in a row "
                        f"(restart limit {self.max_restarts}); last error: {_first_line(error)}"
                    )
                backoff = min(MAX_BACKOFF_S, 2.0 ** (self._failures[spec.name] - 1))
                self._retry_at[spec.name] = now + backoff
                log.error(
                    "%s: query %s failed (%s); restarting from its checkpoint in %.0fs",
                    self.name,
                    spec.name,
                    _first_line(error),
                    backoff,
                )
            elif now >= retry_at:
                del self._retry_at[spec.name]
                self.stats[spec.name].restarts += 1
                STREAM_QUERY_RESTARTS_TOTAL.labels(spec.name).inc()
                try:
                    self._start(spec)
                except Exception as exc:
                    self._failures[spec.name] += 1
                    self._retry_at[spec.name] = now + min(MAX_BACKOFF_S, 2.0 ** self._failures[spec.name])
                    log.error("%s: restarting query %s failed: %s", self.name, spec.name, _first_line(exc))
        return running

    def _record_progress(self, name: str, query: Any) -> None:
        try:
            reports = query.recentProgress
        except Exception:
            return
        last = self._progress_seen.get(name)
        fresh = []
        for report in reversed(reports):
            data = json.loads(report.json) if hasattr(report, "json") else dict(report)
            key = f"{data.get('runId')}:{data.get('batchId')}:{data.get('timestamp')}"
            if key == last:
                break
            fresh.append((key, data))
        if not fresh:
            return
        self._progress_seen[name] = fresh[0][0]
        stats = self.stats[name]
        for _, data in reversed(fresh):
            mark = (data.get("eventTime") or {}).get("watermark")
            if mark and not mark.startswith("1970-01-01"):
                stats.watermark = datetime.fromisoformat(mark.replace("Z", "+00:00"))
            rows = int(data.get("numInputRows") or 0)
            late = sum(int(op.get("numRowsDroppedByWatermark") or 0) for op in data.get("stateOperators") or [])
            if rows == 0 and late == 0:
                continue
            seconds = (data.get("durationMs") or {}).get("triggerExecution", 0) / 1000
            stats.batches += 1
            stats.input_rows += rows
            stats.late_events += late
            STREAM_INPUT_ROWS_TOTAL.labels(name).inc(rows)
            STREAM_BATCH_SECONDS.labels(name).observe(seconds)
            if late:
                STREAM_LATE_EVENTS_TOTAL.labels(name).inc(late)
            log.info(
                "%s batch %s: %d records in %.2fs%s",
                name,
                data.get("batchId"),
                rows,
                seconds,
                f", {late} late events dropped (older than the watermark)" if late else "",
            )
            self._failures[name] = 0

    def _record_outcome(self, outcome: BatchOutcome) -> None:
        with self._lock:
            stats = self.stats[outcome.query]
            stats.online_rows += outcome.online_rows
            stats.last_batch_id = outcome.batch_id
            for (_, reason), n in outcome.dead_letters.items():
                stats.dead_letters[reason] += n
        if self.on_batch is not None:
            self.on_batch(outcome)


def _first_line(error: Any) -> str:
    """The most telling line of a (possibly Py4J-wrapped) error: the last ``SomeError: message`` line."""
    text = (getattr(error, "desc", None) or str(error)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line) and "Py4J" not in line]
    return (causes[-1] if causes else lines[0] if lines else type(error).__name__)[:500]
