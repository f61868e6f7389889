"""``featurekit stream ...``: run a streaming application, produce synthetic events, create topics, replay the DLQ."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

app = typer.Typer(
    help="Spark Structured Streaming from Kafka into the online and offline stores.", no_args_is_help=True
)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("py4j", "feast", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command("run")
@friendly_errors
def run(
    name: Annotated[str, typer.Argument(help="Application: balances or transactions.")],
    env: EnvOption = None,
    available_now: Annotated[
        bool, typer.Option("--available-now", help="Process what is in the topics now, then stop.")
    ] = False,
    starting_offsets: Annotated[
        str, typer.Option(help="earliest, latest or Spark-style JSON; used only when a query has no checkpoint.")
    ] = "earliest",
    max_offsets_per_trigger: Annotated[
        int | None, typer.Option(help="Override streaming.max_offsets_per_trigger.")
    ] = None,
    create_topics: Annotated[
        bool, typer.Option("--create-topics", help="Create missing source and DLQ topics (local brokers).")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics (featurekit_stream_*) on this port.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one streaming application until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    from featurekit.config import load_settings
    from featurekit.streaming.jobs import StreamApplication, application
    from featurekit.streaming.producer import ensure_topics, stream_topics

    _logging(verbose)
    settings = load_settings(env)
    application(name)  # unknown names fail before Spark starts
    if create_topics:
        ensure_topics(settings, stream_topics(settings))
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
        console.print(f"  metrics on http://0.0.0.0:{metrics_port}/metrics")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    job = StreamApplication(
        settings,
        name,
        starting_offsets=starting_offsets,
        available_now=available_now,
        max_offsets_per_trigger=max_offsets_per_trigger,
        max_restarts=3 if available_now else None,  # a catch-up run reports failure; a service keeps retrying
    )
    console.print(f"[bold]stream {name}[/] env={settings.env} source={settings.streaming.source_format}")
    job.run(stop=stop)
    for query, stats in job.stats.items():
        console.print(
            f"  {query}: {stats.input_rows:,} records in {stats.batches} batches, {stats.online_rows:,} online rows, "
            f"{sum(stats.dead_letters.values()):,} dead letters, {stats.late_events:,} late events dropped, "
            f"{stats.restarts} restarts"
        )


@app.command("produce")
@friendly_errors
def produce(
    stream: Annotated[str, typer.Argument(help="balances or transactions")],
    env: EnvOption = None,
    events: Annotated[int, typer.Option(help="How many events.")] = 10_000,
    users: Annotated[int, typer.Option(help="Distinct users (ids from 100001, as in the warehouse).")] = 2_000,
    rate: Annotated[float | None, typer.Option(help="Events per second (default: as fast as possible).")] = None,
    poison_rate: Annotated[float, typer.Option(help="Share of invalid records mixed in (0..1).")] = 0.0,
    seed: Annotated[int, typer.Option()] = 7,
    create_topics: Annotated[bool, typer.Option("--create-topics/--no-create-topics")] = True,
) -> None:
    """Produce synthetic events (optionally with poison records) to a stream topic."""
    from featurekit.config import load_settings
    from featurekit.streaming.producer import ensure_topics, produce_burst, stream_topics

    if not 0.0 <= poison_rate <= 1.0:
        raise typer.BadParameter(f"--poison-rate must be within 0..1, got {poison_rate}")
    settings = load_settings(env)
    if create_topics:
        ensure_topics(settings, stream_topics(settings))
    report = produce_burst(
        settings, stream, events=events, users=users, poison_rate=poison_rate, rate_per_s=rate, seed=seed
    )
    poison = ", ".join(f"{k}={v}" for k, v in sorted(report.poison.items())) or "none"
    console.print(
        f"{report.valid:,} events to {report.topic} in {report.seconds:.1f}s "
        f"({report.valid / max(report.seconds, 1e-9):,.0f}/s); poison: {poison}"
    )


@app.command("topics")
@friendly_errors
def topics(
    env: EnvOption = None,
    partitions: Annotated[int, typer.Option(help="Partitions for topics that are created.")] = 2,
) -> None:
    """Create the source and dead-letter topics that do not exist yet."""
    from featurekit.config import load_settings
    from featurekit.streaming.producer import ensure_topics, stream_topics

    settings = load_settings(env)
    names = stream_topics(settings)
    ensure_topics(settings, names, partitions=partitions)
    console.print("topics: " + ", ".join(names))


@app.command("replay-dlq")
@friendly_errors
def replay_dlq(
    topic: Annotated[str, typer.Argument(help="Source topic whose dead letters to replay, e.g. balance-events.")],
    env: EnvOption = None,
    reason: Annotated[
        str | None, typer.Option(help="Only letters whose rule is this (unparseable, missing_field, ...).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be replayed; send nothing.")] = False,
) -> None:
    """Re-produce dead letters (original bytes) to their source topic, e.g. after fixing a producer or a rule."""
    from featurekit.config import load_settings
    from featurekit.streaming.dead_letters import replay_dead_letters

    settings = load_settings(env)
    report = replay_dead_letters(settings.kafka, topic, reason=reason, dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    console.print(
        f"{verb} {report.replayed:,} of {report.read:,} dead letters from {report.dlq_topic} to {topic}"
        + (f" (skipped {report.duplicates:,} duplicates)" if report.duplicates else "")
    )


@app.command("compact")
@friendly_errors
def compact(
    env: EnvOption = None,
    view: Annotated[list[str] | None, typer.Option(help="Stream view(s) to compact (default: all).")] = None,
    min_age_days: Annotated[int, typer.Option(help="Only partitions whose day ended this many days ago.")] = 2,
) -> None:
    """Merge the stream sink's per-micro-batch offline files into one file per closed partition."""
    from featurekit.config import load_settings
    from featurekit.offline.storage import offline_location
    from featurekit.streaming.compaction import compact_view
    from featurekit.streaming.jobs import APPLICATIONS

    settings = load_settings(env)
    location = offline_location(settings.offline_store)
    views = view or sorted({q.view for queries in APPLICATIONS.values() for q in queries if q.view})
    for name in views:
        for result in compact_view(location, name, min_age_days=min_age_days):
            if result.file_out:
                console.print(f"{name} ds={result.partition}: {result.files_in} files -> 1 ({result.rows:,} rows)")
