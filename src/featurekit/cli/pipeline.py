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
) -> None:
    """Write VIEW's offline partition for [start, end) into the online store (newer values win); refuses a
    partition whose batch has not passed validation."""
    from featurekit.config import load_settings
    from featurekit.intervals import DataInterval
    from featurekit.observability.jobs import observed_materialize
    from featurekit.repo.loader import load_repo

    settings = load_settings(env)
    if skip_validation:
        err_console.print(f"[bold yellow]warning:[/] materializing {view} WITHOUT its validation check")
    result = observed_materialize(
        settings, load_repo(settings).view(view), DataInterval(start, end), skip_validation=skip_validation
    )
    console.print(f"{result.view} ds={result.partition}: {result.entities:,} entities written")
