"""``featurekit extract`` / ``validate`` / ``materialize``: one pipeline step for one view and interval."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, err_console, friendly_errors

Start = Annotated[datetime, typer.Option(help="Interval start (UTC).")]
End = Annotated[datetime, typer.Option(help="Interval end (UTC, exclusive).")]


@friendly_errors
def extract(view: str, start: Start, end: End, env: EnvOption = None) -> None:
    """Run VIEW's SQL for [start, end) and replace that offline partition."""
    from featurekit.config import load_settings
    from featurekit.intervals import DataInterval
    from featurekit.pipelines.extract import extract_view
    from featurekit.repo.loader import load_repo

    settings = load_settings(env)
    result = extract_view(settings, load_repo(settings).view(view), DataInterval(start, end))
    console.print(f"{result.view} ds={result.partition}: {result.rows:,} rows -> {result.path}")


@friendly_errors
def validate(view: str, start: Start, end: End, env: EnvOption = None) -> None:
    """Check VIEW's extracted batch for [start, end) against its suite and record the outcome next to the partition
    (a failing batch is quarantined)."""
    from featurekit.config import load_settings
    from featurekit.intervals import DataInterval
    from featurekit.observability.jobs import observed_validate
    from featurekit.repo.loader import load_repo

    settings = load_settings(env)
    report = observed_validate(settings, load_repo(settings).view(view), DataInterval(start, end))
    console.print(report.summary, highlight=False, markup=False, soft_wrap=True)


@friendly_errors
def materialize(
    view: str,
    start: Start,
    end: End,
    env: EnvOption = None,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation",
            help="EMERGENCY ONLY: write the partition without a passing validation record (logged and counted in "
            "featurekit_materialization_validation_skipped_total).",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Write only shard I/N (0-based, e.g. 2/4) of the partition's entities: rerun one shard of a sharded "
            "DAG run by hand. The interval is not recorded as materialized (the DAG's record step does that).",
        ),
    ] = None,
) -> None:
    """Write VIEW's offline partition for [start, end) into the online store (newer values win); refuses a
    partition whose batch has not passed validation."""
    from featurekit.config import load_settings
    from featurekit.intervals import DataInterval
    from featurekit.observability.jobs import observed_materialize
    from featurekit.pipelines.shards import Shard
    from featurekit.repo.loader import load_repo

    try:
        part = Shard.parse(shard) if shard is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from exc
    settings = load_settings(env)
    if skip_validation:
        err_console.print(f"[bold yellow]warning:[/] materializing {view} WITHOUT its validation check")
    result = observed_materialize(
        settings, load_repo(settings).view(view), DataInterval(start, end), skip_validation=skip_validation, shard=part
    )
    where = f" ({part}, not recorded)" if part else ""
    console.print(f"{result.view} ds={result.partition}{where}: {result.entities:,} entities written")
