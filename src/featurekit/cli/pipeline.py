"""``featurekit extract`` / ``featurekit materialize``: one pipeline step for one view and interval."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

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
def materialize(view: str, start: Start, end: End, env: EnvOption = None) -> None:
    """Write VIEW's offline partition for [start, end) into the online store (newer values win)."""
    from featurekit.config import load_settings
    from featurekit.intervals import DataInterval
    from featurekit.pipelines.materialize import materialize_view
    from featurekit.repo.loader import load_repo

    settings = load_settings(env)
    result = materialize_view(settings, load_repo(settings).view(view), DataInterval(start, end))
    console.print(f"{result.view} ds={result.partition}: {result.entities:,} entities written")
