"""Run one generated stream job until it is stopped: the code behind ``featurekit stream run`` and the thin
``streaming/stream_job.py`` entry point, so neither of them holds logic and the entry point needs no CLI."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

NOISY_LOGGERS = ("py4j", "feast", "urllib3", "botocore")


def configure_logging(verbose: bool) -> None:
    """Timestamped logs at INFO (DEBUG with ``verbose``), with the chatty libraries at WARNING."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_stream_job(
    name: str,
    *,
    env: str | None = None,
    available_now: bool = False,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
    create_topics: bool = False,
    metrics_port: int | None = None,
    report: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Run the stream job of stream view ``name`` until SIGINT/SIGTERM (or, with ``available_now``, until the
    topics are drained); ``report`` receives the progress lines. Returns the per-query statistics.

    Unknown names and invalid declarations fail (``StreamingError``) before Spark starts.
    """
    from featurekit.config import load_settings
    from featurekit.repo.apply import silence_feast_preview_warnings
    from featurekit.streaming.jobs import StreamApplication, stream_job, stream_topics
    from featurekit.streaming.producer import ensure_topics

    silence_feast_preview_warnings()
    settings = load_settings(env)
    stream = stream_job(settings, name)
    if create_topics:
        ensure_topics(settings, stream_topics(settings, {name: stream}))
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
        report(f"  metrics on http://0.0.0.0:{metrics_port}/metrics")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    job = StreamApplication(
        settings,
        stream,
        starting_offsets=starting_offsets,
        available_now=available_now,
        max_offsets_per_trigger=max_offsets_per_trigger,
        max_restarts=3 if available_now else None,  # a catch-up run reports failure; a service keeps retrying
    )
    report(f"stream {name} env={settings.env} source={settings.streaming.source_format}")
    job.run(stop=stop)
    for query, stats in job.stats.items():
        report(
            f"  {query}: {stats.input_rows:,} records in {stats.batches} batches, {stats.online_rows:,} online rows, "
            f"{sum(stats.dead_letters.values()):,} dead letters, {stats.late_events:,} late events dropped, "
            f"{stats.restarts} restarts"
        )
    return dict(job.stats)
