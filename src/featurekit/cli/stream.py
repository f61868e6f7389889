"""``featurekit stream ...``: list and run the stream jobs generated from the feature repo, produce events, create
topics, replay the DLQ, compact the offline files."""

from __future__ import annotations

from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

app = typer.Typer(
    help="Spark Structured Streaming from Kafka into the online and offline stores.", no_args_is_help=True
)


@app.command("list")
@friendly_errors
def list_jobs(env: EnvOption = None) -> None:
    """The stream jobs derived from the feature repo: one per stream view (view, topic, kind, trigger, sinks)."""
    from rich.table import Table

    from featurekit.config import load_settings
    from featurekit.repo.apply import silence_feast_preview_warnings
    from featurekit.streaming.jobs import stream_jobs

    silence_feast_preview_warnings()
    settings = load_settings(env)
    table = Table(title=f"stream jobs ({settings.feature_repo})")
    for column in ("job / view", "topic", "kind", "transform", "trigger", "queries", "sinks", "defined in"):
        table.add_column(column, overflow="fold")
    for name, job in stream_jobs(settings).items():
        spec = job.spec
        table.add_row(
            name,
            spec.topic,
            spec.describe_kind() + f", watermark {int(spec.watermark.total_seconds())}s",
            f"{spec.transform_name} ({spec.transform_mode})" if spec.transform else "-",
            f"{settings.streaming.trigger_seconds:g}s",
            ", ".join(q.name for q in job.queries()),
            ", ".join(job.sinks(settings)),
            spec.origin,
        )
    console.print(table)


@app.command("run")
@friendly_errors
def run(
    name: Annotated[str, typer.Argument(help="Job: a stream view of the feature repo (see `featurekit stream list`).")],
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
    """Run one stream job until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    from featurekit.streaming.run import configure_logging, run_stream_job

    configure_logging(verbose)
    run_stream_job(
        name,
        env=env,
        available_now=available_now,
        starting_offsets=starting_offsets,
        max_offsets_per_trigger=max_offsets_per_trigger,
        create_topics=create_topics,
        metrics_port=metrics_port,
        report=console.print,
    )


@app.command("produce")
@friendly_errors
def produce(
    name: Annotated[str, typer.Argument(help="Job (stream view) whose topic receives the events.")],
    file: Annotated[typer.FileText, typer.Argument(help="JSON lines, one event per line ('-': standard input).")],
    env: EnvOption = None,
    create_topics: Annotated[bool, typer.Option("--create-topics/--no-create-topics")] = True,
) -> None:
    """Produce JSON events (one per line) to a stream view's topic, keyed by its join keys; lines are sent as they
    are, so invalid ones exercise the dead-letter path."""
    import orjson

    from featurekit.config import load_settings
    from featurekit.repo.apply import silence_feast_preview_warnings
    from featurekit.streaming.jobs import stream_job, stream_topics
    from featurekit.streaming.producer import EventProducer, ensure_topics

    silence_feast_preview_warnings()
    settings = load_settings(env)
    job = stream_job(settings, name)
    if create_topics:
        ensure_topics(settings, stream_topics(settings, {name: job}))
    producer = EventProducer(settings)
    sent = unkeyed = 0
    for line in file:
        value = line.strip().encode()
        if not value:
            continue
        try:
            event = orjson.loads(value)
            key = "|".join(str(event[k]) for k in job.spec.join_keys).encode()
        except (orjson.JSONDecodeError, KeyError, TypeError):
            key, unkeyed = None, unkeyed + 1
        producer.send(job.topic, value, key)
        sent += 1
    producer.flush()
    console.print(f"{sent:,} events to {job.topic} ({unkeyed:,} without a key: not JSON or no join key)")


@app.command("topics")
@friendly_errors
def topics(
    env: EnvOption = None,
    partitions: Annotated[int, typer.Option(help="Partitions for topics that are created.")] = 2,
) -> None:
    """Create the source and dead-letter topics of every stream view that do not exist yet."""
    from featurekit.config import load_settings
    from featurekit.repo.apply import silence_feast_preview_warnings
    from featurekit.streaming.jobs import stream_topics
    from featurekit.streaming.producer import ensure_topics

    silence_feast_preview_warnings()
    settings = load_settings(env)
    names = stream_topics(settings)
    ensure_topics(settings, names, partitions=partitions)
    console.print("topics: " + ", ".join(names))


@app.command("replay-dlq")
@friendly_errors
def replay_dlq(
    topic: Annotated[str, typer.Argument(help="Source topic whose dead letters to replay (see `stream list`).")],
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
    from featurekit.streaming.jobs import stream_jobs

    settings = load_settings(env)
    location = offline_location(settings.offline_store)
    views = view or sorted(stream_jobs(settings))
    for name in views:
        for result in compact_view(location, name, min_age_days=min_age_days):
            if result.file_out:
                console.print(f"{name} ds={result.partition}: {result.files_in} files -> 1 ({result.rows:,} rows)")
