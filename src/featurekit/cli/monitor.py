"""``featurekit drift`` and ``featurekit impact``: data monitoring from the command line.

``drift`` reads the stored partition profiles (no data scan) and exits 2 when the newest partition of a view drifted
over a threshold or has a slice outage; ``impact`` prints what depends on a warehouse table or a feature view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from featurekit.cli.options import EnvOption, console, friendly_errors

DRIFT_EXIT = 2


@friendly_errors
def drift(
    env: EnvOption = None,
    view: Annotated[
        list[str] | None, typer.Option("--view", "-v", help="Feature view (repeatable); default all.")
    ] = None,
    last: Annotated[int, typer.Option(min=1, help="Partitions (hours for stream views) to show over time.")] = 14,
    png: Annotated[Path | None, typer.Option(help="Write the drift-over-time chart here (PNG).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the newest partitions' reports as JSON.")] = False,
) -> None:
    """Drift (PSI / Jensen-Shannon) and slice outages of every batch and stream view's newest partitions."""
    from featurekit.config import load_settings
    from featurekit.monitoring.monitor import latest_reports
    from featurekit.monitoring.report import plot_drift, print_drift
    from featurekit.repo.loader import load_repo

    settings = load_settings(env)
    repo = load_repo(settings)
    views = [v for v in [*repo.batch_views, *repo.stream_views] if not view or v.name in view]
    unknown = set(view or []) - {v.name for v in views}
    if unknown:
        raise typer.BadParameter(f"unknown feature view(s): {', '.join(sorted(unknown))}", param_hint="--view")
    reports = {v.name: latest_reports(settings, v, last) for v in views}
    if as_json:
        console.print_json(json.dumps({name: [r.to_dict() for r in h[-1:]] for name, h in reports.items()}))
    else:
        print_drift(reports, console)
    if png:
        console.print(f"chart: {plot_drift(reports, png)}")
    if any(h and (h[-1].drifted or h[-1].outages) for h in reports.values()):
        raise typer.Exit(code=DRIFT_EXIT)


@friendly_errors
def impact(
    target: Annotated[str, typer.Argument(help="A warehouse table (users, db.users) or a feature view.")],
    env: EnvOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the blast radius as JSON.")] = False,
) -> None:
    """Blast radius: the views, feature services and owners downstream of a table or a view."""
    from featurekit.config import load_settings
    from featurekit.monitoring.impact import Lineage, blast_radius
    from featurekit.monitoring.report import print_impact
    from featurekit.repo.loader import load_repo

    radius = blast_radius(Lineage.from_repo(load_repo(load_settings(env))), target)
    if as_json:
        console.print_json(json.dumps(radius.to_dict()))
    else:
        print_impact(radius, console)
