"""The foreachBatch sink: dead letters to Kafka, feature rows to the online store and to the offline store.

Exactly-once *effect*: Spark replays a micro-batch whose commit it did not record (crash, kill, failure) with the
same offsets and the same state, so the sink only has to make a replay harmless:

- online: the store's ``write_arrow`` keeps the row with the newest (event, created) timestamp per entity, so
  writing the same rows again changes nothing;
- offline: each batch writes the file ``stream-<query>-<batch id>.parquet`` in the ``ds=`` partition of its events'
  date, so a replay replaces its own file instead of adding a copy;
- quality: every micro-batch passes the view's expectations (:mod:`featurekit.quality.stream_gate`); a rejected
  event is a dead letter naming the expectation, and a batch failing too often stops the query before any write;
- dead letters: a completion marker per batch (next to the query's checkpoint) skips a batch whose output was
  already complete; only a crash between publishing and writing the marker publishes a batch's letters twice
  (readers de-duplicate on the ``featurekit.source.*`` headers).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from featurekit.config.settings import Settings
from featurekit.metrics import (
    STREAM_BATCHES_SKIPPED_TOTAL,
    STREAM_DEAD_LETTERS_TOTAL,
    STREAM_EVENT_LAG_SECONDS,
    STREAM_ROWS_WRITTEN_TOTAL,
)
from featurekit.offline.layout import CREATED_FIELD, STREAM_PREFIX, TIMESTAMP_FIELD, partition_value
from featurekit.offline.schema import conform, offline_schema
from featurekit.offline.storage import offline_location
from featurekit.quality.stream_gate import GateResult, as_dead_letters, gate_batch, load_stream_gate
from featurekit.streaming.dead_letters import publish_dead_letters
from featurekit.streaming.events import META_FIELDS
from featurekit.tags import grain_of

META_COLUMNS = {f.name for f in META_FIELDS}

log = logging.getLogger("featurekit.streaming.sink")
MARKER_DIR = "featurekit-sink"
MARKERS_KEPT = 200
_GRAIN_UNIT = {"daily": "day", "hourly": "hour"}


def checkpoint_uri(settings: Settings, query: str) -> str:
    """``<streaming.checkpoint_location>/<query>``: one checkpoint per query, never a shared default."""
    base = settings.streaming.checkpoint_location.rstrip("/")
    if "://" not in base:
        base = os.path.abspath(base)
    return f"{base}/{query}"


class SinkMarkers:
    """Per-batch completion markers inside a query's checkpoint directory (local disk or S3)."""

    def __init__(self, checkpoint: str) -> None:
        scheme, _, rest = checkpoint.partition("://")
        if scheme in ("s3", "s3a"):
            # Region and endpoint from the standard AWS environment (AWS_ENDPOINT_URL in tests), as the offline
            # store does; s3a:// is Hadoop's name for the same thing (Spark outside EMR).
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            self.fs, path = pafs.S3FileSystem(region=region, endpoint_override=endpoint), rest
        elif rest:
            self.fs, path = pafs.FileSystem.from_uri(checkpoint)
        else:
            self.fs, path = pafs.LocalFileSystem(), os.path.abspath(checkpoint)
        self.dir = f"{path.rstrip('/')}/{MARKER_DIR}"

    def _path(self, batch_id: int) -> str:
        return f"{self.dir}/{batch_id:012d}.json"

    def done(self, batch_id: int) -> bool:
        return self.fs.get_file_info(self._path(batch_id)).type == pafs.FileType.File

    def mark(self, batch_id: int, summary: dict[str, Any]) -> None:
        self.fs.create_dir(self.dir, recursive=True)
        with self.fs.open_output_stream(self._path(batch_id)) as out:
            out.write(json.dumps(summary, default=str).encode())
        if batch_id % 50 == 0 and batch_id >= MARKERS_KEPT:
            self._prune(batch_id - MARKERS_KEPT)

    def _prune(self, below: int) -> None:
        for info in self.fs.get_file_info(pafs.FileSelector(self.dir, allow_not_found=True)):
            stem = info.base_name.removesuffix(".json")
            if stem.isdigit() and int(stem) < below:
                self.fs.delete_file(info.path)


@dataclass
class BatchOutcome:
    """What one micro-batch did (kept by the application for logs, tests and the benchmark)."""

    query: str
    batch_id: int
    skipped: bool = False
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    online_rows: int = 0
    offline_files: list[str] = field(default_factory=list)
    newest_event: datetime | None = None
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, started: float) -> float:
        """Record the seconds since ``started`` under ``name``; returns now (for the next step)."""
        now = time.perf_counter()
        self.steps[name] = self.steps.get(name, 0.0) + now - started
        return now


class FeatureSink:
    """``foreachBatch`` function of one query.

    ``mode``: ``latest`` (the batch is parsed events: dead letters out, then the Arrow ``batch_transform`` to
    feature rows),
    ``rows`` (the batch already holds feature rows from a stateful transform), ``dead_letters`` (parsed events,
    only the dead letters are used).

    Per micro-batch, :meth:`_route` is the one place where parsed events are split into the rows that go on and
    the dead letters; :meth:`_write_features` is the one place feature rows reach the stores.
    ``publish_dead_letters`` False: another view on the same topic publishes its dead letters (they are counted
    and dropped here).
    """

    def __init__(
        self,
        settings: Settings,
        query: str,
        mode: str,
        *,
        view: Any = None,
        repo_config: Any = None,
        batch_transform: Any = None,
        publish_dead_letters: bool = True,
        on_batch: Any = None,
    ) -> None:
        from featurekit.online_store.store import TieredRedisOnlineStore

        self.settings, self.query, self.mode = settings, query, mode
        self.view, self.repo_config, self.batch_transform = view, repo_config, batch_transform
        self.on_batch = on_batch
        self.publish_dead_letters = publish_dead_letters
        self.markers = SinkMarkers(checkpoint_uri(settings, query))
        self.online = TieredRedisOnlineStore() if view is not None else None
        self.offline = offline_location(settings.offline_store) if view is not None else None
        self.schema = offline_schema(view) if view is not None else None
        # The view's expectations, vectorized (featurekit.quality.stream_gate): checked on every micro-batch.
        self.gate = load_stream_gate(settings.feature_repo, view.name) if view is not None else None

    def __call__(self, batch: Any, batch_id: int) -> None:
        started = time.perf_counter()
        outcome = BatchOutcome(self.query, batch_id)
        if self.markers.done(batch_id):
            outcome.skipped = True
            STREAM_BATCHES_SKIPPED_TOTAL.labels(self.query).inc()
            log.info("%s batch %d: output already complete (replay after restart); skipped", self.query, batch_id)
        else:
            self._process(batch, batch_id, outcome)
            outcome.seconds = time.perf_counter() - started
            log.debug(
                "%s batch %d sink: %.2fs (%s)",
                self.query,
                batch_id,
                outcome.seconds,
                ", ".join(f"{k} {v:.2f}s" for k, v in outcome.steps.items()),
            )
            self.markers.mark(
                batch_id,
                {
                    "query": self.query,
                    "online_rows": outcome.online_rows,
                    "offline_files": outcome.offline_files,
                    "dead_letters": sum(outcome.dead_letters.values()),
                    "finished_at": datetime.now(UTC).isoformat(),
                },
            )
        if self.on_batch is not None:
            self.on_batch(outcome)

    def _process(self, batch: Any, batch_id: int, outcome: BatchOutcome) -> None:
        from featurekit.streaming.transforms import dead_letters

        t = time.perf_counter()
        if self.mode == "rows":
            rows = batch.toArrow()
            t = outcome.step("spark", t)
            self._write_features(self._gated(rows, batch_id, "rows").good, batch_id, outcome)
            return
        if self.mode == "dead_letters":
            letters = dead_letters(batch).toArrow()
            t = outcome.step("spark", t)
            self._publish(letters, outcome)
            outcome.step("dead_letters", t)
            return
        # One collect of the parsed batch; dead letters and feature rows are split on the driver (no second Spark
        # job re-reading the source, no shuffle).
        events = batch.toArrow()
        t = outcome.step("spark", t)
        good = self._route(events, batch_id, outcome)
        t = outcome.step("quality_and_dead_letters", t)
        rows = self.batch_transform(good)
        outcome.step("transform", t)
        self._write_features(self._gated(rows, batch_id, "rows").good, batch_id, outcome)

    def _gated(self, table: pa.Table, batch_id: int, stage: str) -> GateResult:
        assert self.gate is not None
        quality = self.settings.quality
        result = gate_batch(
            self.gate,
            table,
            where=f"stream query {self.query} batch {batch_id} ({stage})",
            max_failure_rate=quality.stream_max_failure_rate,
            min_rows=quality.stream_min_rows,
        )
        if result.bad.num_rows and stage == "rows":
            log.warning(
                "%s batch %d: %d feature rows failed expectations and were not written: %s",
                self.query,
                batch_id,
                result.bad.num_rows,
                ", ".join(f"{name}={n}" for name, n in result.failures.items()),
            )
        return result

    def _route(self, events: pa.Table, batch_id: int, outcome: BatchOutcome) -> pa.Table:
        """Parsed events -> the valid ones that pass the view's expectations. Events that failed parsing (``error``
        set) and events rejected by an expectation (named in the dead letter) go to the dead-letter topic."""
        invalid = pc.is_valid(events.column("error"))
        letters = events.filter(invalid)
        gated = self._gated(events.filter(pc.invert(invalid)), batch_id, "events")
        if gated.bad.num_rows:
            fields = [c for c in events.column_names if c not in META_COLUMNS]
            letters = pa.concat_tables([letters, as_dead_letters(gated.bad, fields)])
        self._publish(letters, outcome)
        return gated.good

    def _publish(self, letters: pa.Table, outcome: BatchOutcome) -> None:
        if letters.num_rows == 0 or not self.publish_dead_letters:
            return
        outcome.dead_letters = publish_dead_letters(self.settings.kafka, letters)
        for (topic, reason), n in outcome.dead_letters.items():
            STREAM_DEAD_LETTERS_TOTAL.labels(topic, reason).inc(n)
        log.warning(
            "%s: %d records sent to the dead-letter topic: %s",
            self.query,
            letters.num_rows,
            ", ".join(f"{t}/{r}={n}" for (t, r), n in sorted(outcome.dead_letters.items())),
        )

    def _write_features(self, rows: pa.Table, batch_id: int, outcome: BatchOutcome) -> None:
        if rows.num_rows == 0:
            return
        assert self.view is not None and self.offline is not None and self.online is not None
        created = pa.array([datetime.now(UTC)] * rows.num_rows, pa.timestamp("us", tz="UTC"))
        rows = rows.append_column(CREATED_FIELD, created)
        rows = conform(rows, self.schema, where=f"stream query {self.query} batch {batch_id}")
        t = time.perf_counter()
        outcome.online_rows = self.online.write_arrow(self.repo_config, self.view, rows)
        t = outcome.step("online", t)
        STREAM_ROWS_WRITTEN_TOTAL.labels(self.view.name, "online").inc(outcome.online_rows)
        grain = grain_of(self.view)
        starts = pc.floor_temporal(rows.column(TIMESTAMP_FIELD), unit=_GRAIN_UNIT[grain])
        for start in pc.unique(starts).to_pylist():
            part = rows.filter(pc.equal(starts, pa.scalar(start, starts.type)))
            partition = partition_value(start, grain)
            name = f"{STREAM_PREFIX}{self.query}-{batch_id:012d}.parquet"
            outcome.offline_files.append(self.offline.append(self.view.name, partition, part, name))
            STREAM_ROWS_WRITTEN_TOTAL.labels(self.view.name, "offline").inc(part.num_rows)
        outcome.step("offline", t)
        newest = pc.max(rows.column(TIMESTAMP_FIELD)).as_py()
        outcome.newest_event = newest
        STREAM_EVENT_LAG_SECONDS.labels(self.view.name).set((datetime.now(UTC) - newest).total_seconds())
